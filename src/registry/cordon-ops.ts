/**
 * What both stores share about cordons: decoding them, a fresh drain, and the guarded
 * transaction of the engine's drain progress.
 */

import { fenceRevision } from './fence.js';
import { RegistryKeys } from './keys.js';
import type { BadRecordHandler, LeaderFence, Revision, StoredCordon } from './model.js';
import {
  type CordonRecord,
  cordonRecordSchema,
  type DrainRecord,
  decodeRecord,
  encodeRecord,
} from './records.js';
import type { Guard, KeyOp } from './txn-ops.js';

/** A key under `cordons/` with its value and mod revision. */
export interface CordonKey {
  key: string;
  value: string;
  modRevision: Revision;
}

/** The cordons among `kvs`, by machine ID; a bad record is reported and left out. */
export function decodeCordons(
  keys: RegistryKeys,
  kvs: Iterable<CordonKey>,
  onBadRecord: BadRecordHandler,
): Map<string, StoredCordon> {
  const cordons = new Map<string, StoredCordon>();
  for (const { key, value, modRevision } of kvs) {
    const machineID = RegistryKeys.nameUnder(keys.cordonsPrefix, key);
    if (machineID === null) continue;
    try {
      cordons.set(machineID, { record: decodeRecord(cordonRecordSchema, key, value), modRevision });
    } catch (err) {
      onBadRecord(key, err as Error);
    }
  }
  return cordons;
}

/** A cordon without a drain. */
export const CORDONED: CordonRecord = { drain: null };

/** A drain that has not moved anything yet. */
export function drainStarted(maxParallel: number): CordonRecord {
  return { drain: { maxParallel, moving: [], moved: [], stayed: [], done: false } };
}

/** The engine's rewrite of a drain: only while it leads and the cordon is as it saw it. */
export function drainProgressTxn(
  keys: RegistryKeys,
  fence: LeaderFence,
  machineID: string,
  modRevision: Revision,
  drain: DrainRecord,
): { guards: [Guard, ...Guard[]]; ops: KeyOp[] } {
  const key = keys.cordon(machineID);
  return {
    guards: [
      { key: keys.engineLeader, target: 'create', revision: fenceRevision(fence) },
      { key, target: 'mod', revision: modRevision },
    ],
    ops: [{ type: 'put', key, value: encodeRecord({ drain }) }],
  };
}
