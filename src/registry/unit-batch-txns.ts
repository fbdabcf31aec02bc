import {
  MAX_OPERATIONS_PER_TXN,
  MAX_TXN_PAYLOAD_BYTES,
  OPERATION_OVERHEAD_BYTES,
} from './limits.js';
import type { Guard, KeyOp } from './txn-ops.js';

/** One unit's share of a transaction: its guards, its writes, and the keys read back on failure. */
export interface UnitTxnPart {
  guards: readonly Guard[];
  ops: readonly KeyOp[];
  reads: readonly string[];
}

/** Several units' parts as one transaction. */
export interface UnitTxn {
  guards: Guard[];
  ops: KeyOp[];
  reads: string[];
  /** The indices of the parts it holds, in order. */
  parts: number[];
  /** A single part larger than one request may be: the store would refuse it. */
  tooLarge: boolean;
}

/**
 * Packs the parts, in order, into as few transactions as etcd takes: each list of compares,
 * writes and reads within `MAX_OPERATIONS_PER_TXN`, the bytes within `MAX_TXN_PAYLOAD_BYTES`.
 * A body that several units share is written once per transaction (etcd refuses a key
 * written twice); a part that writes a key already written differently starts the next one.
 * A part too large on its own gets a transaction of its own, marked `tooLarge`.
 */
export function packUnitTxns(parts: readonly UnitTxnPart[]): UnitTxn[] {
  const txns: UnitTxn[] = [];
  let current = emptyTxn();
  let written = new Map<string, string | null>();
  let bytes = 0;
  parts.forEach((part, index) => {
    let added = newOps(part.ops, written);
    const partBytes = sizeOf(part.guards, added ?? part.ops, part.reads);
    const fits =
      added !== null &&
      current.guards.length + part.guards.length <= MAX_OPERATIONS_PER_TXN &&
      current.ops.length + added.length <= MAX_OPERATIONS_PER_TXN &&
      current.reads.length + part.reads.length <= MAX_OPERATIONS_PER_TXN &&
      bytes + partBytes <= MAX_TXN_PAYLOAD_BYTES;
    if (!fits && current.parts.length > 0) {
      txns.push(current);
      current = emptyTxn();
      written = new Map();
      bytes = 0;
      added = newOps(part.ops, written) ?? [...part.ops];
    }
    const ops = added ?? [...part.ops];
    current.guards.push(...part.guards);
    current.ops.push(...ops);
    current.reads.push(...part.reads);
    current.parts.push(index);
    for (const op of ops) written.set(op.key, op.type === 'put' ? op.value : null);
    bytes += sizeOf(part.guards, ops, part.reads);
    current.tooLarge = bytes > MAX_TXN_PAYLOAD_BYTES;
  });
  if (current.parts.length > 0) txns.push(current);
  return txns;
}

function emptyTxn(): UnitTxn {
  return { guards: [], ops: [], reads: [], parts: [], tooLarge: false };
}

/** The ops not yet in the transaction; null when one writes a key the transaction writes differently. */
function newOps(
  ops: readonly KeyOp[],
  written: ReadonlyMap<string, string | null>,
): KeyOp[] | null {
  const fresh: KeyOp[] = [];
  for (const op of ops) {
    if (!written.has(op.key)) {
      fresh.push(op);
      continue;
    }
    if (op.type !== 'put' || written.get(op.key) !== op.value) return null;
  }
  return fresh;
}

function sizeOf(guards: readonly Guard[], ops: readonly KeyOp[], reads: readonly string[]): number {
  let bytes = 0;
  for (const guard of guards) bytes += Buffer.byteLength(guard.key) + OPERATION_OVERHEAD_BYTES;
  for (const op of ops) {
    bytes += Buffer.byteLength(op.key) + OPERATION_OVERHEAD_BYTES;
    if (op.type === 'put') bytes += Buffer.byteLength(op.value);
  }
  for (const key of reads) bytes += Buffer.byteLength(key) + OPERATION_OVERHEAD_BYTES;
  return bytes;
}
