import type { JobState } from '../../src/job/types.js';
import type { SchedulerMachine, SchedulerUnit } from '../../src/placement/model.js';

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
