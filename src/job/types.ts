export const JOB_STATES = ['inactive', 'loaded', 'launched'] as const;

/** A unit's desired (target) or current state as fleet sees it, not systemd's. */
export type JobState = (typeof JOB_STATES)[number];

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

/**
 * The scheduling constraints of a unit's `[X-Fleet]` section, with the specifiers
 * (`%n %N %p %i`) already resolved against the unit's own name.
 */
export interface Requirements {
  /** `MachineID` (or a deprecated spelling); `null` when absent, `''` when present but empty. */
  machineID: string | null;
  /** `MachineOf`: units that must already be scheduled on the same machine. */
  peers: readonly string[];
  /** `Conflicts`: Go `path.Match` globs of units that may not share a machine with this one. */
  conflicts: readonly string[];
  /** `Replaces`: Go `path.Match` globs of units this one pushes off its machine. */
  replaces: readonly string[];
  /** `MachineMetadata`: every key must be present on the machine with one of the listed values. */
  metadata: ReadonlyMap<string, ReadonlySet<string>>;
  /** `Global`: runs on every machine whose metadata matches; never placed by the engine. */
  global: boolean;
}
