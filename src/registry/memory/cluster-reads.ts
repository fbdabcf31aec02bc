import { clusterUnitOf, clusterUnitsOf, decodePlacements } from '../decode.js';
import type { RegistryKeys } from '../keys.js';
import type { ClusterUnit, Machine, UnitState } from '../model.js';
import type { ClusterReads } from '../ports.js';
import type { MemoryMachineMetadataWrites } from './machine-metadata-writes.js';
import type { MemoryStore } from './store.js';
import type { MemoryUnitRecords } from './unit-records.js';
import type { MemoryUnitStateReads } from './unit-state-reads.js';

/** `EtcdClusterReads` on the in-memory store: every call reads what it needs afresh. */
export class MemoryClusterReads implements ClusterReads {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly unitRecords: MemoryUnitRecords,
    private readonly machineRecords: MemoryMachineMetadataWrites,
    private readonly states: MemoryUnitStateReads,
  ) {}

  async units(): Promise<readonly ClusterUnit[]> {
    const units = await this.unitRecords.list();
    const placements = decodePlacements(
      this.keys,
      this.store.range(this.keys.placementsPrefix).kvs,
    );
    return clusterUnitsOf(units, placements, this.states.list());
  }

  async unit(name: string): Promise<ClusterUnit | null> {
    const unit = await this.unitRecords.get(name);
    if (unit === null) return null;
    const machineID = unit.global
      ? null
      : (this.store.get(this.keys.placement(name))?.value ?? null);
    const states = await this.states.forUnit(name);
    return clusterUnitOf(
      unit,
      machineID,
      states.find((state) => state.machineID === machineID),
    );
  }

  async machines(): Promise<Machine[]> {
    return this.machineRecords.list();
  }

  async unitStates(): Promise<readonly UnitState[]> {
    return this.states.list();
  }
}
