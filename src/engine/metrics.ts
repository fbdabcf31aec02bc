import type { EngineTask, EngineTaskCause } from './model.js';

/** Why a unit had to leave its machine, as `/metrics` labels it. */
export type Displacement = 'machine_away' | 'run';

/** What the engine reports for `/metrics` (fleet's `fleet_engine_*` series). */
export interface EngineMetrics {
  leadershipAcquired(unixSeconds: number): void;
  passCompleted(): void;
  /** A pass found a unit whose machine went away, or that cannot run where it is. */
  unitDisplaced(kind: Displacement): void;
  taskApplied(type: EngineTask['type']): void;
  /** A task lost a race (another writer or a leadership change) and was not applied. */
  taskFailed(type: EngineTask['type']): void;
}

export const NO_ENGINE_METRICS: EngineMetrics = {
  leadershipAcquired: () => undefined,
  passCompleted: () => undefined,
  unitDisplaced: () => undefined,
  taskApplied: () => undefined,
  taskFailed: () => undefined,
};

/** How `/metrics` labels a unit displaced for `cause`; undefined for a cause that is not one. */
export function displacementOf(cause: EngineTaskCause): Displacement | undefined {
  if (cause === 'machine-away') return 'machine_away';
  if (cause === 'unable-to-run') return 'run';
  return undefined;
}
