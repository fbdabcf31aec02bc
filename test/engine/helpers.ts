import type { EngineTask } from '../../src/engine/model.js';
import { decide } from '../../src/engine/scheduler.js';
import type { SchedulerMachine, SchedulerUnit } from '../../src/placement/model.js';

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
