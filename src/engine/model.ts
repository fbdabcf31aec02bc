/**
 * Why the engine decided a task, as data: the reason text is fleet's log line, this is what
 * metrics and tests read.
 */
export type EngineTaskCause =
  /** The unit's desired state is inactive. */
  | 'target-inactive'
  /** The unit's machine is no longer registered. */
  | 'machine-away'
  /** The unit's machine no longer satisfies its requirements. */
  | 'unable-to-run'
  /** A unit scheduled beside it replaces it. */
  | 'replaced'
  /** The unit should run and is scheduled nowhere. */
  | 'not-scheduled'
  /** The unit's machine is being drained. */
  | 'drained';

/** One schedule change, to be carried out in the order returned (fleet's engine task). */
export type EngineTask = {
  type: 'UnscheduleUnit' | 'AttemptScheduleUnit';
  unitName: string;
  machineID: string;
  reason: string;
  cause: EngineTaskCause;
};
