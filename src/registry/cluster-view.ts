import type { Etcd3 } from 'etcd3';
import type { JobState } from '../job/types.js';
import type { UnitFile } from '../unit/unit-file.js';
import { RegistryKeys } from './keys.js';
import type { Machine, MachineStore } from './machine-store.js';
import type { StateStore, UnitState } from './state-store.js';
import type { StoredUnit, UnitStore } from './unit-store.js';

/** A unit as the API and fleetctl show it. */
export interface ClusterUnit {
  name: string;
  hash: string;
  unitFile: UnitFile;
  desiredState: JobState;
  /** Derived as fleet derives it (see `currentStateOf`); `null` for global units, which have none. */
  currentState: JobState | null;
  /** The machine the unit is scheduled to; `null` when unscheduled or global. */
  machineID: string | null;
  global: boolean;
}

/**
 * fleet's current state of a non-global unit: `inactive` unless scheduled and its target
 * machine reports a state for it; then `launched` if that agent has started it, else
 * `loaded`. So `launched` means "the target agent started it", not "systemd says active".
 *
 * Only a state for the unit's current content counts. Right after a replace, the target may
 * still report the old content (which it is about to unload); fleet took that for the new
 * content, so `start --replace` could return before the new unit ran.
 */
export function currentStateOf(
  unitHash: string,
  machineID: string | null,
  stateOnTarget: Pick<UnitState, 'launched' | 'hash'> | undefined,
): JobState {
  if (machineID === null || stateOnTarget === undefined) return 'inactive';
  if (stateOnTarget.hash !== unitHash) return 'inactive';
  return stateOnTarget.launched ? 'launched' : 'loaded';
}

/**
 * The cluster as API clients see it, derived from the registry in one place: the HTTP API
 * and fleetctl's etcd driver both read through this, so they can never disagree.
 */
export class ClusterView {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly unitStore: UnitStore,
    private readonly machineStore: MachineStore,
    private readonly stateStore: StateStore,
  ) {}

  /** Every unit, sorted by name, from one read of units, placements and states each. */
  async units(): Promise<ClusterUnit[]> {
    const [units, placements, states] = await Promise.all([
      this.unitStore.list(),
      this.placements(),
      this.stateStore.list(),
    ]);
    const stateByUnitAndMachine = new Map(
      states.map((state) => [`${state.name}/${state.machineID}`, state]),
    );
    return units.map((unit) => {
      const machineID = unit.global ? null : (placements.get(unit.name) ?? null);
      return toClusterUnit(unit, machineID, stateByUnitAndMachine.get(`${unit.name}/${machineID}`));
    });
  }

  async unit(name: string): Promise<ClusterUnit | null> {
    const [unit, placement, states] = await Promise.all([
      this.unitStore.get(name),
      this.etcd.get(this.keys.placement(name)).string(),
      this.stateStore.forUnit(name),
    ]);
    if (unit === null) return null;
    const machineID = unit.global ? null : placement;
    return toClusterUnit(
      unit,
      machineID,
      states.find((state) => state.machineID === machineID),
    );
  }

  machines(): Promise<Machine[]> {
    return this.machineStore.list();
  }

  unitStates(): Promise<UnitState[]> {
    return this.stateStore.list();
  }

  private async placements(): Promise<Map<string, string>> {
    const response = await this.etcd.getAll().prefix(this.keys.placementsPrefix).exec();
    const placements = new Map<string, string>();
    for (const kv of response.kvs) {
      const name = RegistryKeys.nameUnder(this.keys.placementsPrefix, kv.key.toString());
      if (name !== null) placements.set(name, kv.value.toString());
    }
    return placements;
  }
}

function toClusterUnit(
  unit: StoredUnit,
  machineID: string | null,
  stateOnTarget: UnitState | undefined,
): ClusterUnit {
  return {
    name: unit.name,
    hash: unit.hash,
    unitFile: unit.unitFile,
    desiredState: unit.desiredState,
    currentState: unit.global ? null : currentStateOf(unit.hash, machineID, stateOnTarget),
    machineID,
    global: unit.global,
  };
}
