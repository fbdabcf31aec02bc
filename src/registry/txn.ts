import type { Etcd3, IRequestOp } from 'etcd3';

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
