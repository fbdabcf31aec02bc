/**
 * etcd's default cap on the operations of one transaction (`--max-txn-ops`), for each of its
 * compares, success and failure lists: etcd refuses a larger transaction outright. The
 * in-memory twin refuses what etcd refuses.
 */
export const MAX_OPERATIONS_PER_TXN = 128;

/** An engine schedule change writes up to three keys: 40 of them stay under the cap. */
export const MAX_CHANGES_PER_TXN = 40;
