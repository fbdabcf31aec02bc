import type { ApiMachine, ApiUnit, ApiUnitState } from '../api/schema.js';

/**
 * What fleetctl needs from a cluster, whichever way it reaches it: the HTTP API
 * (`--driver API`) or etcd directly (`--driver etcd`). Mirrors fleet's `client.API`.
 */
export interface FleetClient {
  machines(): Promise<ApiMachine[]>;
  /** The unit, or null when it does not exist. */
  unit(name: string): Promise<ApiUnit | null>;
  units(): Promise<ApiUnit[]>;
  unitStates(): Promise<ApiUnitState[]>;
  /** The state of one unit on some machine reporting it, or null when none does. */
  unitState(name: string): Promise<ApiUnitState | null>;
  /** Creates or replaces a unit; without `desiredState` it becomes `inactive`. */
  createUnit(unit: ApiUnit): Promise<void>;
  setUnitTargetState(name: string, desiredState: string): Promise<void>;
  destroyUnit(name: string): Promise<void>;
  close(): Promise<void>;
}
