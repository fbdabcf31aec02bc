import { isGlobalUnit } from '../job/requirements.js';
import { UnitFile } from '../unit/unit-file.js';
import { clusterUnitOf, compareStrings, decodeMachines, decodeUnitStates } from './decode.js';
import { RegistryKeys } from './keys.js';
import type {
  ClusterObjectChange,
  ClusterSnapshot,
  ClusterUnit,
  Machine,
  Revision,
  UnitState,
} from './model.js';
import { decodeRecord, type UnitRecord, unitRecordSchema } from './records.js';

/** A stored key, or its deletion (`value` null). */
export interface KeyChange {
  key: string;
  value: string | null;
}

/** Keys of the objects one revision may have changed. */
interface Touched {
  units: Set<string>;
  states: Set<string>;
  machines: Set<string>;
}

/**
 * The cluster's objects as the API shows them (units, unit states, machines), derived from
 * the registry's keys exactly as the API's reads derive them (`decode.ts`), and kept current
 * key change by key change: each revision's changes come back as the objects whose content
 * changed, before and after. A key the API cannot use (a bad record, a unit whose body is
 * missing) leaves its object absent, as the API's reads leave it out.
 */
export class ClusterObjects {
  private readonly unitRecords = new Map<string, UnitRecord>();
  private readonly placements = new Map<string, string>();
  /** Unit bodies by hash, parsed, for as long as their keys exist. */
  private readonly bodies = new Map<string, UnitFile>();
  /** Unit names by the hash their record names, to find the units a body completes. */
  private readonly unitsByHash = new Map<string, Set<string>>();
  /** State keys (`<unit>/<machine>`) and their stored values. */
  private readonly stateValues = new Map<string, string>();
  private readonly machineRecords = new Map<string, string>();
  private readonly metadata = new Map<string, Map<string, string>>();

  private readonly units = new Map<string, ClusterUnit>();
  private readonly states = new Map<string, UnitState>();
  private readonly machines = new Map<string, Machine>();

  constructor(private readonly keys: RegistryKeys) {}

  /** Every object, sorted as the API's lists are. */
  snapshot(revision: Revision): ClusterSnapshot {
    const sorted = <T>(objects: Map<string, T>) =>
      [...objects.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, value]) => value);
    return {
      revision,
      units: sorted(this.units),
      states: [...this.states.values()].sort(
        (a, b) => compareStrings(a.name, b.name) || compareStrings(a.machineID, b.machineID),
      ),
      machines: sorted(this.machines),
    };
  }

  /**
   * Replaces every key with `records` (the whole prefix as of one revision); returns what
   * changed against the objects known before.
   */
  replaceAll(records: readonly { key: string; value: string }[]): ClusterObjectChange[] {
    const gone: KeyChange[] = this.storedKeys().map((key) => ({ key, value: null }));
    return this.apply([...gone, ...records]);
  }

  /** Applies the key changes of one revision; returns the objects they changed. */
  apply(changes: readonly KeyChange[]): ClusterObjectChange[] {
    const touched: Touched = { units: new Set(), states: new Set(), machines: new Set() };
    for (const change of changes) this.store(change, touched);
    // States first: a unit's current state is derived from the state on its target.
    const states = [...touched.states]
      .sort(compareStrings)
      .flatMap((key) => this.rederiveState(key));
    return [
      ...[...touched.units].sort(compareStrings).flatMap((name) => this.rederiveUnit(name)),
      ...states,
      ...[...touched.machines].sort(compareStrings).flatMap((id) => this.rederiveMachine(id)),
    ];
  }

  private storedKeys(): string[] {
    const k = this.keys;
    return [
      ...[...this.unitRecords.keys()].map((name) => k.unit(name)),
      ...[...this.placements.keys()].map((name) => k.placement(name)),
      ...[...this.bodies.keys()].map((hash) => k.unitFile(hash)),
      ...[...this.stateValues.keys()].map((key) => `${k.statesPrefix}${key}`),
      ...[...this.machineRecords.keys()].map((id) => k.machine(id)),
      ...[...this.metadata].flatMap(([id, values]) =>
        [...values.keys()].map((key) => k.machineMetadata(id, key)),
      ),
    ];
  }

  /** Keeps one key's change; keys the API does not show are ignored. */
  private store({ key, value }: KeyChange, touched: Touched): void {
    const k = this.keys;
    const unit = RegistryKeys.nameUnder(k.unitsPrefix, key);
    if (unit !== null) {
      this.storeUnitRecord(unit, key, value);
      touched.units.add(unit);
      return;
    }
    const placed = RegistryKeys.nameUnder(k.placementsPrefix, key);
    if (placed !== null) {
      setOrDelete(this.placements, placed, value);
      touched.units.add(placed);
      return;
    }
    const hash = RegistryKeys.nameUnder(k.unitFilesPrefix, key);
    if (hash !== null) {
      if (value === null) this.bodies.delete(hash);
      else if (!this.bodies.has(hash)) this.bodies.set(hash, UnitFile.parse(value));
      for (const name of this.unitsByHash.get(hash) ?? []) touched.units.add(name);
      return;
    }
    const state = RegistryKeys.pairUnder(k.statesPrefix, key);
    if (state !== null) {
      const stateKey = `${state[0]}/${state[1]}`;
      setOrDelete(this.stateValues, stateKey, value);
      touched.states.add(stateKey);
      // The unit's current state comes from the state its target machine reports.
      touched.units.add(state[0]);
      return;
    }
    const machine = RegistryKeys.nameUnder(k.machinesPrefix, key);
    if (machine !== null) {
      setOrDelete(this.machineRecords, machine, value);
      touched.machines.add(machine);
      return;
    }
    const metadata = RegistryKeys.pairUnder(k.allMachineMetadataPrefix, key);
    if (metadata !== null) {
      const [id, name] = metadata;
      const values = this.metadata.get(id) ?? new Map<string, string>();
      setOrDelete(values, name, value);
      if (values.size === 0) this.metadata.delete(id);
      else this.metadata.set(id, values);
      touched.machines.add(id);
    }
  }

  private storeUnitRecord(name: string, key: string, value: string | null): void {
    const old = this.unitRecords.get(name);
    if (old !== undefined) this.unitsByHash.get(old.hash)?.delete(name);
    this.unitRecords.delete(name);
    if (value === null) return;
    let record: UnitRecord;
    try {
      record = decodeRecord(unitRecordSchema, key, value);
    } catch {
      // The API's reads report it; a stream leaves the unit out as they do.
      return;
    }
    this.unitRecords.set(name, record);
    const sharing = this.unitsByHash.get(record.hash) ?? new Set<string>();
    sharing.add(name);
    this.unitsByHash.set(record.hash, sharing);
  }

  private rederiveUnit(name: string): ClusterObjectChange[] {
    const record = this.unitRecords.get(name);
    const unitFile = record === undefined ? undefined : this.bodies.get(record.hash);
    let after: ClusterUnit | null = null;
    if (record !== undefined && unitFile !== undefined) {
      const global = isGlobalUnit(unitFile);
      const machineID = global ? null : (this.placements.get(name) ?? null);
      const onTarget = machineID === null ? undefined : this.states.get(`${name}/${machineID}`);
      after = clusterUnitOf({ ...record, unitFile, global }, machineID, onTarget);
    }
    const before = this.units.get(name) ?? null;
    setOrDelete(this.units, name, after);
    return sameUnit(before, after) ? [] : [{ type: 'unit', name, before, after }];
  }

  private rederiveState(stateKey: string): ClusterObjectChange[] {
    const value = this.stateValues.get(stateKey);
    const [after = null] =
      value === undefined
        ? []
        : decodeUnitStates(
            this.keys,
            [{ key: `${this.keys.statesPrefix}${stateKey}`, value }],
            () => undefined,
          );
    const before = this.states.get(stateKey) ?? null;
    setOrDelete(this.states, stateKey, after);
    if (sameJson(before, after)) return [];
    const [name = '', machineID = ''] = stateKey.split('/');
    return [{ type: 'state', name, machineID, before, after }];
  }

  private rederiveMachine(id: string): ClusterObjectChange[] {
    const value = this.machineRecords.get(id);
    const [after = null] =
      value === undefined
        ? []
        : decodeMachines(
            this.keys,
            [{ key: this.keys.machine(id), value }],
            [...(this.metadata.get(id) ?? [])].map(([key, metadata]) => ({
              key: this.keys.machineMetadata(id, key),
              value: metadata,
            })),
            () => undefined,
          );
    const before = this.machines.get(id) ?? null;
    setOrDelete(this.machines, id, after);
    return sameJson(before, after) ? [] : [{ type: 'machine', name: id, before, after }];
  }
}

function setOrDelete<T>(map: Map<string, T>, key: string, value: T | null): void {
  if (value === null) map.delete(key);
  else map.set(key, value);
}

/** A unit's content is named by its hash, so the parsed body need not be compared. */
function sameUnit(a: ClusterUnit | null, b: ClusterUnit | null): boolean {
  if (a === null || b === null) return a === b;
  return sameJson({ ...a, unitFile: null }, { ...b, unitFile: null });
}

/** Equal as JSON with object keys sorted: for plain records of strings, numbers and flags. */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a, sortedKeys) === JSON.stringify(b, sortedKeys);
}

function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => compareStrings(a, b)));
}
