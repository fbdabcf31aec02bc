import { RegistryKeys } from '../keys.js';
import {
  type BadRecordHandler,
  type ClusterUnit,
  currentStateOf,
  type Machine,
  type MetadataEdit,
  mergeMetadata,
  type StoredUnit,
  type UnitState,
} from '../model.js';
import type { BodySweeps, ClusterReads, MachineMetadataWrites, UnitStateReads } from '../ports.js';
import {
  decodeRecord,
  machineRecordSchema,
  unitRecordSchema,
  unitStateRecordSchema,
} from '../records.js';
import type { MemoryKeyValue, MemoryStore } from './store.js';
import type { MemoryUnitStore } from './units.js';

/** `StateStore` on the in-memory store. */
export class MemoryStateStore implements UnitStateReads {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
  ) {}

  /** Every published state, sorted by unit name, then machine ID. */
  list(): UnitState[] {
    return this.decode(this.store.range(this.keys.statesPrefix).kvs).sort(
      (a, b) => compare(a.name, b.name) || compare(a.machineID, b.machineID),
    );
  }

  async forUnit(name: string): Promise<UnitState[]> {
    const { kvs } = this.store.range(this.keys.unitStatesPrefix(name));
    return this.decode(kvs).sort((a, b) => compare(a.machineID, b.machineID));
  }

  private decode(kvs: readonly MemoryKeyValue[]): UnitState[] {
    const states: UnitState[] = [];
    for (const { key, value } of kvs) {
      const pair = RegistryKeys.pairUnder(this.keys.statesPrefix, key);
      if (pair === null) continue;
      try {
        const record = decodeRecord(unitStateRecordSchema, key, value);
        states.push({ ...record, name: pair[0], machineID: pair[1] });
      } catch (err) {
        this.onBadRecord(key, err as Error);
      }
    }
    return states;
  }
}

/** `MachineStore` on the in-memory store. */
export class MemoryMachineStore implements MachineMetadataWrites {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
  ) {}

  list(): Machine[] {
    const machines = this.store.range(this.keys.machinesPrefix);
    const metadata = this.store.range(this.keys.allMachineMetadataPrefix, machines.revision);
    const dynamic = new Map<string, Map<string, string>>();
    for (const { key, value } of metadata.kvs) {
      const pair = RegistryKeys.pairUnder(this.keys.allMachineMetadataPrefix, key);
      if (pair === null) continue;
      const forMachine = dynamic.get(pair[0]) ?? new Map<string, string>();
      forMachine.set(pair[1], value);
      dynamic.set(pair[0], forMachine);
    }
    const result: Machine[] = [];
    for (const { key, value } of machines.kvs) {
      if (RegistryKeys.nameUnder(this.keys.machinesPrefix, key) === null) continue;
      try {
        const { sessionToken: _, ...record } = decodeRecord(machineRecordSchema, key, value);
        result.push({
          ...record,
          metadata: mergeMetadata(record.metadata, dynamic.get(record.id)),
        });
      } catch (err) {
        this.onBadRecord(key, err as Error);
      }
    }
    return result.sort((a, b) => compare(a.id, b.id));
  }

  async editMetadata(edits: readonly MetadataEdit[]): Promise<void> {
    const finalValues = new Map<string, string>();
    for (const { machineID, key, value } of edits) {
      finalValues.set(this.keys.machineMetadata(machineID, key), value ?? '');
    }
    if (finalValues.size === 0) return;
    this.store.txn({
      compare: [],
      success: [...finalValues].map(([key, value]) => ({ type: 'put', key, value })),
    });
  }
}

/** `ClusterView` on the in-memory store: every call reads what it needs afresh. */
export class MemoryClusterView implements ClusterReads {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly units_: MemoryUnitStore,
    private readonly machines_: MemoryMachineStore,
    private readonly states: MemoryStateStore,
  ) {}

  async units(): Promise<readonly ClusterUnit[]> {
    const units = await this.units_.list();
    const placements = new Map<string, string>();
    for (const { key, value } of this.store.range(this.keys.placementsPrefix).kvs) {
      const name = RegistryKeys.nameUnder(this.keys.placementsPrefix, key);
      if (name !== null) placements.set(name, value);
    }
    const states = new Map(
      this.states.list().map((state) => [`${state.name}/${state.machineID}`, state]),
    );
    return units.map((unit) => {
      const machineID = unit.global ? null : (placements.get(unit.name) ?? null);
      return toClusterUnit(unit, machineID, states.get(`${unit.name}/${machineID}`));
    });
  }

  async unit(name: string): Promise<ClusterUnit | null> {
    const unit = await this.units_.get(name);
    if (unit === null) return null;
    const machineID = unit.global
      ? null
      : (this.store.get(this.keys.placement(name))?.value ?? null);
    const states = await this.states.forUnit(name);
    return toClusterUnit(
      unit,
      machineID,
      states.find((state) => state.machineID === machineID),
    );
  }

  async machines(): Promise<Machine[]> {
    return this.machines_.list();
  }

  async unitStates(): Promise<readonly UnitState[]> {
    return this.states.list();
  }
}

/**
 * `UnitFileCollector` on the in-memory store: sweeps asked for in one turn run once, on the
 * next; `flush` runs a due sweep at once.
 */
export class MemoryBodySweeps implements BodySweeps {
  private due = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
  ) {}

  sweepSoon(): void {
    if (this.due) return;
    this.due = true;
    setImmediate(() => void this.flush());
  }

  async flush(): Promise<void> {
    if (this.due && this.running === null) {
      this.due = false;
      this.running = Promise.resolve()
        .then(() => {
          this.sweep();
        })
        .finally(() => {
          this.running = null;
        });
    }
    await this.running;
  }

  /** Removes every body no unit record references; nothing while a record is unreadable. */
  sweep(): number {
    const { kvs: units, revision } = this.store.range(this.keys.unitsPrefix);
    const referenced = new Set<string>();
    for (const { key, value } of units) {
      try {
        referenced.add(decodeRecord(unitRecordSchema, key, value).hash);
      } catch {
        return 0;
      }
    }
    let removed = 0;
    for (const { key } of this.store.range(this.keys.unitFilesPrefix, revision).kvs) {
      const hash = RegistryKeys.nameUnder(this.keys.unitFilesPrefix, key);
      if (hash === null || referenced.has(hash)) continue;
      const { succeeded } = this.store.txn({
        compare: [{ key, target: 'mod', op: '<', revision: revision + 1n }],
        success: [{ type: 'delete', key }],
      });
      if (succeeded) removed++;
    }
    return removed;
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
