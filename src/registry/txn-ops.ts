/**
 * What the registry's writes commit, as plain data: the guards and operations of each
 * transaction, decided once here and committed by each store its own way (etcd's through
 * `txn.ts`, the twin's by its `MemoryStore`).
 */

import { fenceRevision } from './fence.js';
import type { RegistryKeys } from './keys.js';
import { MAX_OPERATIONS_PER_TXN } from './limits.js';
import type { LeaderFence, MetadataEdit, Revision, ScheduleChange, StateUpdate } from './model.js';
import { encodeRecord, type UnitRecord } from './records.js';

/** One write of a transaction; a put with a lease is deleted with the lease. */
export type KeyOp =
  | { type: 'put'; key: string; value: string; lease?: string }
  | { type: 'delete'; key: string };

/** One condition of a transaction: the key's create or mod revision equals `revision`. */
export interface Guard {
  key: string;
  target: 'create' | 'mod';
  revision: Revision;
}

/** A unit's new content, as a write makes it. */
export interface UnitWrite {
  record: UnitRecord;
  /** The canonical text to store under the record's hash, when it may be new. */
  body?: string;
  global: boolean;
}

/** Whether a placed unit keeps its placement once `change` is written (null deletes it). */
export function keepsPlacement(change: UnitWrite | null): boolean {
  return change !== null && !change.global && change.record.desiredState !== 'inactive';
}

/** The schedule entry (or global unit entry) that runs `record`. */
export function entryOf(record: UnitRecord): string {
  return encodeRecord({ hash: record.hash, desiredState: record.desiredState });
}

/** The writes that take the unit (on `machineID`, if placed) to `change`; null deletes. */
export function unitWriteOps(
  keys: RegistryKeys,
  name: string,
  change: UnitWrite | null,
  machineID: string | null,
): KeyOp[] {
  const unitKey = keys.unit(name);
  const globalKey = keys.globalUnit(name);
  const ops: KeyOp[] = [];
  if (change === null) {
    ops.push({ type: 'delete', key: unitKey }, { type: 'delete', key: globalKey });
  } else {
    ops.push({ type: 'put', key: unitKey, value: encodeRecord(change.record) });
    if (change.body !== undefined) {
      ops.push({ type: 'put', key: keys.unitFile(change.record.hash), value: change.body });
    }
    ops.push(
      change.global
        ? { type: 'put', key: globalKey, value: entryOf(change.record) }
        : { type: 'delete', key: globalKey },
    );
  }
  if (machineID !== null) {
    const scheduleKey = keys.scheduleEntry(machineID, name);
    if (keepsPlacement(change) && change !== null) {
      ops.push({ type: 'put', key: scheduleKey, value: entryOf(change.record) });
    } else {
      ops.push({ type: 'delete', key: keys.placement(name) }, { type: 'delete', key: scheduleKey });
    }
  }
  return ops;
}

/**
 * One transaction of the engine's schedule changes: it commits only while `fence` holds,
 * and each change only if the placement (and, to schedule, the unit) is as its decision saw.
 */
export function scheduleBatchTxn(
  keys: RegistryKeys,
  fence: LeaderFence,
  batch: readonly ScheduleChange[],
): { guards: [Guard, ...Guard[]]; ops: KeyOp[] } {
  const guards: [Guard, ...Guard[]] = [
    { key: keys.engineLeader, target: 'create', revision: fenceRevision(fence) },
  ];
  const ops: KeyOp[] = [];
  for (const change of batch) {
    const placementKey = keys.placement(change.unitName);
    const scheduleKey = keys.scheduleEntry(change.machineID, change.unitName);
    guards.push({ key: placementKey, target: 'mod', revision: change.placementModRevision });
    if (change.type === 'schedule') {
      guards.push({
        key: keys.unit(change.unitName),
        target: 'mod',
        revision: change.unitModRevision,
      });
      ops.push(
        { type: 'put', key: placementKey, value: change.machineID },
        { type: 'put', key: scheduleKey, value: encodeRecord(change.entry) },
      );
      if (change.fromMachineID !== null) {
        ops.push({
          type: 'delete',
          key: keys.scheduleEntry(change.fromMachineID, change.unitName),
        });
      }
    } else {
      ops.push({ type: 'delete', key: placementKey }, { type: 'delete', key: scheduleKey });
    }
  }
  return { guards, ops };
}

/**
 * The writes of `PATCH /fleet/v1/machines`. etcd refuses a key twice in a transaction, and
 * applying edits in order leaves each key with its last value, so only that one is written;
 * a removal writes the empty tombstone that hides a configured key.
 */
export function metadataEditOps(keys: RegistryKeys, edits: readonly MetadataEdit[]): KeyOp[] {
  const finalValues = new Map<string, string>();
  for (const { machineID, key, value } of edits) {
    finalValues.set(keys.machineMetadata(machineID, key), value ?? '');
  }
  return [...finalValues].map(([key, value]) => ({ type: 'put', key, value }));
}

/**
 * An agent's publications, as transactions within etcd's cap: each state put under the
 * machine's lease, so it vanishes with the machine; a withdrawn one deleted.
 */
export function stateUpdateTxns(
  keys: RegistryKeys,
  lease: { machineID: string; leaseID: string },
  updates: readonly StateUpdate[],
): KeyOp[][] {
  const txns: KeyOp[][] = [];
  for (let start = 0; start < updates.length; start += MAX_OPERATIONS_PER_TXN) {
    txns.push(
      updates.slice(start, start + MAX_OPERATIONS_PER_TXN).map(({ name, state }): KeyOp => {
        const key = keys.unitState(name, lease.machineID);
        return state === null
          ? { type: 'delete', key }
          : { type: 'put', key, value: encodeRecord(state), lease: lease.leaseID };
      }),
    );
  }
  return txns;
}
