import type { ApiMachine, ApiUnit, ApiUnitState } from '../api/schema.js';
import type { EventStreamEnd } from './event-stream.js';
import type { MachineCordonsClient } from './machine-cordons.js';
import type { RolloutsClient } from './rollouts.js';
import type { UnitOutputRequest, UnitOutputResult, UnitOutputSink } from './unit-output.js';

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
  /**
   * Ours: creates, replaces or sets the desired state of each unit (each a PUT's body) in one
   * request, within the batch limits (`unit-batch.ts`). Resolves with each unit's error as its
   * own `createUnit` or `setUnitTargetState` would have thrown it, null when it was written.
   * Rejects with BatchNotServedError where the cluster has no batch path.
   */
  writeUnits?(units: readonly ApiUnit[]): Promise<Array<Error | null>>;
  /**
   * Ours: a unit's `systemctl status` or journal, run by fleet on the unit's machine. Only
   * the API driver has it; the etcd driver reaches no fleetd.
   */
  unitOutput?(
    request: UnitOutputRequest,
    sink: UnitOutputSink,
    signal?: AbortSignal,
  ): Promise<UnitOutputResult>;
  /**
   * Ours: follows the cluster's event stream after `since` (null: from a snapshot), handing
   * `onLine` each line. Only the API driver has it.
   */
  followEvents?(
    since: string | null,
    onLine: (line: string) => void,
    signal?: AbortSignal,
  ): Promise<EventStreamEnd>;
  /** Ours: cordons and drains. Only the API driver has them. */
  readonly cordons?: MachineCordonsClient;
  /** Ours: rolling updates. Only the API driver has them. */
  readonly rollouts?: RolloutsClient;
  close(): Promise<void>;
}
