import type { JobState, Requirements } from '../job/types.js';

/** A unit as the engine schedules it: desired state, current placement, constraints. */
export interface SchedulerUnit {
  name: string;
  targetState: JobState;
  /** The machine the unit is scheduled to; `null` when it is not scheduled. */
  targetMachineID: string | null;
  requirements: Requirements;
}

/** A live machine: one whose presence is currently registered. */
export interface SchedulerMachine {
  id: string;
  metadata: Readonly<Record<string, string>>;
}

/** One schedule change, to be carried out in the order returned (fleet's engine task). */
export type EngineTask = {
  type: 'UnscheduleUnit' | 'AttemptScheduleUnit';
  unitName: string;
  machineID: string;
  reason: string;
};
