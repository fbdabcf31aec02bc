import type { EngineTask } from './model.js';

/** What the engine reports for `/metrics` (fleet's `fleet_engine_*` series). */
export interface EngineMetrics {
  leadershipAcquired(unixSeconds: number): void;
  passCompleted(): void;
  /** A pass found a unit whose machine went away, or that cannot run where it is. */
  unitDisplaced(kind: 'machine_away' | 'run'): void;
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
