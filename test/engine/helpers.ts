import type { EngineTask, SchedulerMachine, SchedulerUnit } from '../../src/engine/scheduler.js';
import { decide } from '../../src/engine/scheduler.js';
import type { JobState } from '../../src/job/types.js';

export interface UnitOptions {
  /** The machine the unit is currently scheduled to. */
  on?: string | null;
  state?: JobState;
  machineID?: string | null;
  machineOf?: string[];
  conflicts?: string[];
  replaces?: string[];
  /** `MachineMetadata`, one entry per key with its accepted values. */
  metadata?: Record<string, string[]>;
  global?: boolean;
}

/** A unit, launched and unscheduled unless told otherwise. */
export function unit(name: string, options: UnitOptions = {}): SchedulerUnit {
  const metadata = new Map(
    Object.entries(options.metadata ?? {}).map(([key, values]) => [key, new Set(values)]),
  );
  return {
    name,
    targetState: options.state ?? 'launched',
    targetMachineID: options.on ?? null,
    requirements: {
      machineID: options.machineID ?? null,
      peers: options.machineOf ?? [],
      conflicts: options.conflicts ?? [],
      replaces: options.replaces ?? [],
      metadata,
      global: options.global ?? false,
    },
  };
}

export function machine(id: string, metadata: Record<string, string> = {}): SchedulerMachine {
  return { id, metadata };
}

/**
 * Carries tasks out the way the registry does: unscheduling is a compare-and-delete on the
 * current target, scheduling a create that fails when the unit is already scheduled.
 */
export function applyTasks(
  units: readonly SchedulerUnit[],
  tasks: readonly EngineTask[],
): SchedulerUnit[] {
  const targets = new Map(units.map((u) => [u.name, u.targetMachineID]));
  for (const task of tasks) {
    const current = targets.get(task.unitName);
    if (current === undefined) continue;
    if (task.type === 'UnscheduleUnit' && current === task.machineID) {
      targets.set(task.unitName, null);
    } else if (task.type === 'AttemptScheduleUnit' && current === null) {
      targets.set(task.unitName, task.machineID);
    }
  }
  return units.map((u) => ({ ...u, targetMachineID: targets.get(u.name) ?? null }));
}

export interface Convergence {
  units: SchedulerUnit[];
  /** The tasks of every pass that produced any. */
  passes: EngineTask[][];
}

/** Runs decide and applies its tasks until a pass produces none; throws past `maxPasses`. */
export function runToFixedPoint(
  units: readonly SchedulerUnit[],
  machines: readonly SchedulerMachine[],
  maxPasses = 20,
): Convergence {
  let current = [...units];
  const passes: EngineTask[][] = [];
  for (let pass = 0; pass <= maxPasses; pass++) {
    const tasks = decide(current, machines);
    if (tasks.length === 0) return { units: current, passes };
    passes.push(tasks);
    current = applyTasks(current, tasks);
  }
  throw new Error(`no fixed point after ${maxPasses} passes: ${JSON.stringify(passes.at(-1))}`);
}

/** Unit name → machine it is scheduled to. */
export function placements(units: readonly SchedulerUnit[]): Record<string, string | null> {
  return Object.fromEntries(units.map((u) => [u.name, u.targetMachineID]));
}

/** Compact task notation for table expectations: `schedule a.service -> m1`. */
export function describeTasks(tasks: readonly EngineTask[]): string[] {
  return tasks.map((task) =>
    task.type === 'UnscheduleUnit'
      ? `unschedule ${task.unitName} from ${task.machineID}`
      : `schedule ${task.unitName} -> ${task.machineID}`,
  );
}
