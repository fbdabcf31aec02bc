import type { ComparatorBuilder, Etcd3, IRequestOp } from 'etcd3';
import type { Guard, KeyOp } from './txn-ops.js';

/** Anything etcd3 can turn into one operation of a transaction. */
export interface Operation {
  op(): Promise<IRequestOp>;
}

/** Commits the operations in one transaction with no condition: all of them or none. */
export async function commitAll(etcd: Etcd3, operations: readonly Operation[]): Promise<void> {
  if (operations.length === 0) return;
  const success = await Promise.all(operations.map((operation) => operation.op()));
  await etcd.kv.txn({ compare: [], success, failure: [] });
}

/** The operations of `txn-ops.ts` as etcd3's. */
export function etcdOps(etcd: Etcd3, ops: readonly KeyOp[]): Operation[] {
  return ops.map((op) => {
    if (op.type === 'delete') return etcd.delete().key(op.key);
    const put = etcd.put(op.key).value(op.value);
    return op.lease === undefined ? put : put.lease(op.lease);
  });
}

/** A transaction whose compares are `guards` (at least one), each an equality. */
export function guardedTxn(
  etcd: Etcd3,
  [first, ...rest]: readonly [Guard, ...Guard[]],
): ComparatorBuilder {
  const target = (guard: Guard) => (guard.target === 'create' ? 'Create' : 'Mod');
  let txn = etcd.if(first.key, target(first), '==', first.revision);
  for (const guard of rest) txn = txn.and(guard.key, target(guard), '==', guard.revision);
  return txn;
}
