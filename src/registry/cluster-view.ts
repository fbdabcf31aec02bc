import type { Etcd3, IKeyValue } from 'etcd3';
import { RegistryKeys } from './keys.js';
import type { MachineStore } from './machine-store.js';
import {
  type ClusterUnit,
  currentStateOf,
  type Machine,
  type StoredUnit,
  type UnitState,
} from './model.js';
import { DEFAULT_PAGE_SIZE } from './paged-range.js';
import type { ClusterReads } from './ports.js';
import { PrefixSnapshot, readSnapshots } from './prefix-snapshot.js';
import type { StateStore } from './state-store.js';
import type { UnitStore } from './unit-store.js';

/**
 * The cluster as API clients see it, derived from the registry in one place: the HTTP API
 * and fleetctl's etcd driver both read through this, so they can never disagree.
 */
export class ClusterView implements ClusterReads {
  /*
   * Lists are served a page at a time, each page a request of its own: these keep what the
   * previous page read, and a page reads again only a prefix that changed (see
   * PrefixSnapshot), so a listing costs one read of each prefix, not one per page.
   */
  private readonly unitRecords: PrefixSnapshot<StoredUnit[]>;
  private readonly placementRecords: PrefixSnapshot<Map<string, string>>;
  private readonly stateRecords: PrefixSnapshot<UnitState[]>;
  /** `units()`'s answer per unit snapshot, and the placements and states it was derived from. */
  private readonly derived = new WeakMap<
    StoredUnit[],
    { placements: Map<string, string>; states: UnitState[]; units: ClusterUnit[] }
  >();

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly unitStore: UnitStore,
    private readonly machineStore: MachineStore,
    private readonly stateStore: StateStore,
    pageSize = DEFAULT_PAGE_SIZE,
  ) {
    const paged = { pageSize };
    this.unitRecords = new PrefixSnapshot(
      etcd,
      keys.unitsPrefix,
      (kvs) => unitStore.fromKvs(kvs),
      paged,
    );
    this.placementRecords = new PrefixSnapshot(
      etcd,
      keys.placementsPrefix,
      (kvs) => this.decodePlacements(kvs),
      paged,
    );
    this.stateRecords = new PrefixSnapshot(
      etcd,
      keys.statesPrefix,
      (kvs) => stateStore.fromKvs(kvs),
      paged,
    );
  }

  /**
   * Every unit, sorted by name, from the current units, placements and states (one read of
   * each prefix that changed since the last call). Shared: do not change it.
   */
  async units(): Promise<readonly ClusterUnit[]> {
    const [units, placements, states] = await readSnapshots([
      this.unitRecords,
      this.placementRecords,
      this.stateRecords,
    ]);
    const known = this.derived.get(units);
    if (known !== undefined && known.placements === placements && known.states === states) {
      return known.units;
    }
    const stateByUnitAndMachine = new Map(
      states.map((state) => [`${state.name}/${state.machineID}`, state]),
    );
    const derived = units.map((unit) => {
      const machineID = unit.global ? null : (placements.get(unit.name) ?? null);
      return toClusterUnit(unit, machineID, stateByUnitAndMachine.get(`${unit.name}/${machineID}`));
    });
    this.derived.set(units, { placements, states, units: derived });
    return derived;
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

  /** Every published state, sorted as `StateStore.list`'s. Shared: do not change it. */
  unitStates(): Promise<readonly UnitState[]> {
    return this.stateRecords.read();
  }

  private decodePlacements(kvs: readonly IKeyValue[]): Map<string, string> {
    const placements = new Map<string, string>();
    for (const kv of kvs) {
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
