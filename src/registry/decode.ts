/**
 * Stored keys read into the model, the same on etcd and in memory: each store hands over
 * its keys and values as text, these decode and join them. A value that cannot be used is
 * reported to the store's `BadRecordHandler` and left out.
 */

import { RegistryKeys } from './keys.js';
import {
  type BadRecordHandler,
  type ClusterUnit,
  currentStateOf,
  type Machine,
  mergeMetadata,
  type StoredUnit,
  type UnitState,
} from './model.js';
import { decodeRecord, machineRecordSchema, unitStateRecordSchema } from './records.js';

/** A stored key and its value, as text. */
export interface StoredKey {
  key: string;
  value: string;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Published states, in the order of `kvs`. */
export function decodeUnitStates(
  keys: RegistryKeys,
  kvs: Iterable<StoredKey>,
  onBadRecord: BadRecordHandler,
): UnitState[] {
  const states: UnitState[] = [];
  for (const { key, value } of kvs) {
    const pair = RegistryKeys.pairUnder(keys.statesPrefix, key);
    if (pair === null) continue;
    try {
      const record = decodeRecord(unitStateRecordSchema, key, value);
      states.push({ ...record, name: pair[0], machineID: pair[1] });
    } catch (err) {
      onBadRecord(key, err as Error);
    }
  }
  return states;
}

/** States sorted by unit name, then machine ID: the order of every listing of them. */
export function sortUnitStates(states: UnitState[]): UnitState[] {
  return states.sort(
    (a, b) => compareStrings(a.name, b.name) || compareStrings(a.machineID, b.machineID),
  );
}

/** API-set metadata under `keys.allMachineMetadataPrefix`, by machine ID, then key. */
export function dynamicMetadataOf(
  keys: RegistryKeys,
  kvs: Iterable<StoredKey>,
): Map<string, Map<string, string>> {
  const dynamic = new Map<string, Map<string, string>>();
  for (const { key, value } of kvs) {
    const pair = RegistryKeys.pairUnder(keys.allMachineMetadataPrefix, key);
    if (pair === null) continue;
    const forMachine = dynamic.get(pair[0]) ?? new Map<string, string>();
    forMachine.set(pair[1], value);
    dynamic.set(pair[0], forMachine);
  }
  return dynamic;
}

/**
 * Live machines with their metadata merged, sorted by ID, from the machine records and the
 * API-set metadata read at the same revision.
 */
export function decodeMachines(
  keys: RegistryKeys,
  machines: Iterable<StoredKey>,
  metadata: Iterable<StoredKey>,
  onBadRecord: BadRecordHandler,
): Machine[] {
  const dynamic = dynamicMetadataOf(keys, metadata);
  const result: Machine[] = [];
  for (const { key, value } of machines) {
    if (RegistryKeys.nameUnder(keys.machinesPrefix, key) === null) continue;
    try {
      const { sessionToken: _, ...record } = decodeRecord(machineRecordSchema, key, value);
      result.push({ ...record, metadata: mergeMetadata(record.metadata, dynamic.get(record.id)) });
    } catch (err) {
      onBadRecord(key, err as Error);
    }
  }
  return result.sort((a, b) => compareStrings(a.id, b.id));
}

/** The machine of each placed unit, by unit name. */
export function decodePlacements(
  keys: RegistryKeys,
  kvs: Iterable<StoredKey>,
): Map<string, string> {
  const placements = new Map<string, string>();
  for (const { key, value } of kvs) {
    const name = RegistryKeys.nameUnder(keys.placementsPrefix, key);
    if (name !== null) placements.set(name, value);
  }
  return placements;
}

/** Every unit as the API shows it, in the order of `units`. */
export function clusterUnitsOf(
  units: readonly StoredUnit[],
  placements: ReadonlyMap<string, string>,
  states: readonly UnitState[],
): ClusterUnit[] {
  const stateByUnitAndMachine = new Map(
    states.map((state) => [`${state.name}/${state.machineID}`, state]),
  );
  return units.map((unit) => {
    const machineID = unit.global ? null : (placements.get(unit.name) ?? null);
    return clusterUnitOf(unit, machineID, stateByUnitAndMachine.get(`${unit.name}/${machineID}`));
  });
}

/** One unit as the API shows it, placed on `machineID` and reporting `stateOnTarget` there. */
export function clusterUnitOf(
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
