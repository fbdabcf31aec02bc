import type { Etcd3 } from 'etcd3';
import { clusterUnitOf, clusterUnitsOf, decodePlacements } from './decode.js';
import type { RegistryKeys } from './keys.js';
import type { EtcdMachineMetadataWrites } from './machine-metadata-writes.js';
import type { ClusterUnit, Machine, StoredUnit, UnitState } from './model.js';
import { asText, DEFAULT_PAGE_SIZE } from './paged-range.js';
import type { ClusterReads } from './ports.js';
import { PrefixRead, readPrefixes } from './read-prefixes.js';
import type { EtcdUnitRecords } from './unit-records.js';
import type { EtcdUnitStateReads } from './unit-state-reads.js';

/**
 * The cluster as API clients see it, derived from the registry in one place: the HTTP API
 * and fleetctl's etcd driver both read through this, so they can never disagree.
 */
export class EtcdClusterReads implements ClusterReads {
  /*
   * Lists are served a page at a time, each page a request of its own: these keep what the
   * previous page read, and a page reads again only a prefix that changed (see
   * PrefixRead), so a listing costs one read of each prefix, not one per page.
   */
  private readonly unitRecords: PrefixRead<StoredUnit[]>;
  private readonly placementRecords: PrefixRead<Map<string, string>>;
  private readonly stateRecords: PrefixRead<UnitState[]>;
  /** `units()`'s answer per unit snapshot, and the placements and states it was derived from. */
  private readonly derived = new WeakMap<
    StoredUnit[],
    { placements: Map<string, string>; states: UnitState[]; units: ClusterUnit[] }
  >();

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly unitStore: EtcdUnitRecords,
    private readonly machineStore: EtcdMachineMetadataWrites,
    private readonly stateStore: EtcdUnitStateReads,
    pageSize = DEFAULT_PAGE_SIZE,
  ) {
    const paged = { pageSize };
    this.unitRecords = new PrefixRead(
      etcd,
      keys.unitsPrefix,
      (kvs) => unitStore.fromKvs(kvs),
      paged,
    );
    this.placementRecords = new PrefixRead(
      etcd,
      keys.placementsPrefix,
      (kvs) => decodePlacements(keys, asText(kvs)),
      paged,
    );
    this.stateRecords = new PrefixRead(
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
    const [units, placements, states] = await readPrefixes([
      this.unitRecords,
      this.placementRecords,
      this.stateRecords,
    ]);
    const known = this.derived.get(units);
    if (known !== undefined && known.placements === placements && known.states === states) {
      return known.units;
    }
    const derived = clusterUnitsOf(units, placements, states);
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
    return clusterUnitOf(
      unit,
      machineID,
      states.find((state) => state.machineID === machineID),
    );
  }

  machines(): Promise<Machine[]> {
    return this.machineStore.list();
  }

  /** Every published state, sorted as `EtcdUnitStateReads.list`'s. Shared: do not change it. */
  unitStates(): Promise<readonly UnitState[]> {
    return this.stateRecords.read();
  }
}
