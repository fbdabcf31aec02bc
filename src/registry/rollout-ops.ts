/**
 * What both stores share about rollouts: decoding them, and the guarded transactions that
 * create one and rewrite it with the pins it holds.
 */

import { fenceRevision } from './fence.js';
import { RegistryKeys } from './keys.js';
import { ABSENT, type BadRecordHandler, type LeaderFence, type Revision } from './model.js';
import {
  decodeRecord,
  encodeRecord,
  type RolloutHealth,
  type RolloutRecord,
  rolloutHealthSchema,
  rolloutRecordSchema,
} from './records.js';
import type { Guard, KeyOp } from './txn-ops.js';

/** A rollout as stored, with the revision a rewrite of it is guarded by. */
export interface StoredRollout {
  record: RolloutRecord;
  modRevision: Revision;
}

/** Holds `unit` on `machineID` to `hash`, or releases it (null: the unit's record rules). */
export interface PinWrite {
  machineID: string;
  unit: string;
  hash: string | null;
  /** The command the machine's agent runs to tell whether the held content is healthy. */
  healthCmd?: string;
}

/** A key under `rollouts/` with its value and mod revision. */
export interface RolloutKey {
  key: string;
  value: string;
  modRevision: Revision;
}

/** The rollouts among `kvs`, oldest first; a bad record is reported and left out. */
export function decodeRollouts(
  keys: RegistryKeys,
  kvs: Iterable<RolloutKey>,
  onBadRecord: BadRecordHandler,
): StoredRollout[] {
  const rollouts: StoredRollout[] = [];
  for (const { key, value, modRevision } of kvs) {
    if (RegistryKeys.nameUnder(keys.rolloutsPrefix, key) === null) continue;
    try {
      rollouts.push({ record: decodeRecord(rolloutRecordSchema, key, value), modRevision });
    } catch (err) {
      onBadRecord(key, err as Error);
    }
  }
  return rollouts.sort(
    (a, b) => a.record.createdAt - b.record.createdAt || a.record.id.localeCompare(b.record.id),
  );
}

/** Whether a rollout still holds content: running, paused for its canary, or failed. */
export function holdsContent(record: RolloutRecord): boolean {
  return record.status === 'running' || record.status === 'paused' || record.status === 'failed';
}

/** Every body a rollout still holding content may have its machines run. */
export function heldHashes(record: RolloutRecord): string[] {
  return holdsContent(record) ? record.units.flatMap((unit) => [unit.oldHash, unit.newHash]) : [];
}

/** The bodies a stored rollout holds, or null when the value is unreadable. */
export function heldHashesOf(key: string, value: string): string[] | null {
  try {
    return heldHashes(decodeRecord(rolloutRecordSchema, key, value));
  } catch {
    return null;
  }
}

function pinOps(keys: RegistryKeys, rollout: string, pins: readonly PinWrite[]): KeyOp[] {
  return pins.map(({ machineID, unit, hash, healthCmd }) => {
    const key = keys.rolloutPin(machineID, unit);
    return hash === null
      ? { type: 'delete', key }
      : { type: 'put', key, value: encodeRecord({ hash, rollout, healthCmd }) };
  });
}

/** A new rollout and its pins, only where no rollout exists by that ID nor pins them yet. */
export function createRolloutTxn(
  keys: RegistryKeys,
  record: RolloutRecord,
  pins: readonly PinWrite[],
): { guards: [Guard, ...Guard[]]; ops: KeyOp[] } {
  return {
    guards: [
      { key: keys.rollout(record.id), target: 'create', revision: ABSENT },
      ...pins.map(
        (pin): Guard => ({
          key: keys.rolloutPin(pin.machineID, pin.unit),
          target: 'create',
          revision: ABSENT,
        }),
      ),
    ],
    ops: [
      { type: 'put', key: keys.rollout(record.id), value: encodeRecord(record) },
      ...pinOps(keys, record.id, pins),
    ],
  };
}

/**
 * A rollout's rewrite and its pins: only while it is as the decision saw it, and, for the
 * engine's, while the leadership `fence` holds.
 */
export function updateRolloutTxn(
  keys: RegistryKeys,
  modRevision: Revision,
  record: RolloutRecord,
  pins: readonly PinWrite[],
  fence: LeaderFence | null,
): { guards: [Guard, ...Guard[]]; ops: KeyOp[] } {
  const key = keys.rollout(record.id);
  const guards: [Guard, ...Guard[]] = [{ key, target: 'mod', revision: modRevision }];
  if (fence !== null) {
    guards.push({ key: keys.engineLeader, target: 'create', revision: fenceRevision(fence) });
  }
  return {
    guards,
    ops: [{ type: 'put', key, value: encodeRecord(record) }, ...pinOps(keys, record.id, pins)],
  };
}

/** A health report as stored, with where it comes from. */
export interface StoredHealth extends RolloutHealth {
  machineID: string;
  unit: string;
}

/** The health reports among `kvs`; a bad one is reported and left out. */
export function decodeHealth(
  keys: RegistryKeys,
  kvs: Iterable<{ key: string; value: string }>,
  onBadRecord: BadRecordHandler,
): StoredHealth[] {
  const reports: StoredHealth[] = [];
  for (const { key, value } of kvs) {
    const pair = RegistryKeys.pairUnder(keys.rolloutHealthPrefix, key);
    if (pair === null) continue;
    try {
      const report = decodeRecord(rolloutHealthSchema, key, value);
      reports.push({ ...report, machineID: pair[0], unit: pair[1] });
    } catch (err) {
      onBadRecord(key, err as Error);
    }
  }
  return reports;
}

/** A machine's health report for a unit, under its lease; null withdraws it. */
export function healthReportOp(
  keys: RegistryKeys,
  lease: { machineID: string; leaseID: string },
  unit: string,
  report: RolloutHealth | null,
): KeyOp {
  const key = keys.rolloutHealth(lease.machineID, unit);
  return report === null
    ? { type: 'delete', key }
    : { type: 'put', key, value: encodeRecord(report), lease: lease.leaseID };
}
