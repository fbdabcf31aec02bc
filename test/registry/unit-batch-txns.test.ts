import { describe, expect, it } from 'vitest';
import { MAX_OPERATIONS_PER_TXN, MAX_TXN_PAYLOAD_BYTES } from '../../src/registry/limits.js';
import type { KeyOp } from '../../src/registry/txn-ops.js';
import { packUnitTxns, type UnitTxnPart } from '../../src/registry/unit-batch-txns.js';

/** A new unit's share: two guards, its record, its body and its global entry's delete. */
function part(name: string, body = `body of ${name}`, bodyKey = `/f/${name}`): UnitTxnPart {
  const ops: KeyOp[] = [
    { type: 'put', key: `/u/${name}`, value: '{}' },
    { type: 'put', key: bodyKey, value: body },
    { type: 'delete', key: `/g/${name}` },
  ];
  return {
    guards: [
      { key: `/u/${name}`, target: 'mod', revision: '0' },
      { key: `/p/${name}`, target: 'mod', revision: '0' },
    ],
    ops,
    reads: [`/u/${name}`, `/p/${name}`],
  };
}

describe('packUnitTxns', () => {
  it('fills each transaction up to the operations cap, keeping the parts in order', () => {
    const parts = Array.from({ length: 100 }, (_, i) => part(`u${i}`));
    const txns = packUnitTxns(parts);
    const perTxn = Math.floor(MAX_OPERATIONS_PER_TXN / 3);
    expect(txns.map((txn) => txn.parts.length)).toEqual([perTxn, perTxn, 100 - 2 * perTxn]);
    expect(txns.flatMap((txn) => txn.parts)).toEqual(parts.map((_, i) => i));
    for (const txn of txns) {
      expect(txn.ops.length).toBeLessThanOrEqual(MAX_OPERATIONS_PER_TXN);
      expect(txn.guards).toHaveLength(txn.parts.length * 2);
    }
  });

  it('writes a body the units share once per transaction', () => {
    const parts = Array.from({ length: 64 }, (_, i) => part(`u${i}`, 'shared', '/f/shared'));
    const txns = packUnitTxns(parts);
    // 2 ops each and the body once: 63 units fill 127 ops, the 64th starts another.
    expect(txns.map((txn) => txn.parts.length)).toEqual([63, 1]);
    expect(txns[0]!.ops.filter((op) => op.key === '/f/shared')).toHaveLength(1);
    expect(txns[1]!.ops.filter((op) => op.key === '/f/shared')).toHaveLength(1);
  });

  it('starts another transaction for a part that writes a key differently', () => {
    const txns = packUnitTxns([part('a', 'one', '/f/x'), part('b', 'two', '/f/x')]);
    expect(txns.map((txn) => txn.parts)).toEqual([[0], [1]]);
  });

  it('keeps each transaction’s bytes within the budget: 1 MiB bodies one at a time', () => {
    const mib = 'x'.repeat(1024 * 1024);
    const txns = packUnitTxns([part('a', mib), part('b', mib), part('c'), part('d', mib)]);
    expect(txns.map((txn) => txn.parts)).toEqual([[0], [1, 2], [3]]);
    expect(txns.map((txn) => txn.tooLarge)).toEqual([false, false, false]);
    for (const txn of txns) {
      const bytes = txn.ops.reduce(
        (sum, op) => sum + op.key.length + (op.type === 'put' ? op.value.length : 0),
        0,
      );
      expect(bytes).toBeLessThan(MAX_TXN_PAYLOAD_BYTES);
    }
  });

  it('marks a part larger than a request may be, alone in its transaction', () => {
    const txns = packUnitTxns([part('a'), part('b', 'x'.repeat(2 * 1024 * 1024)), part('c')]);
    expect(txns.map((txn) => [txn.parts, txn.tooLarge])).toEqual([
      [[0], false],
      [[1], true],
      [[2], false],
    ]);
  });
});
