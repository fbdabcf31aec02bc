/**
 * etcd's default cap on the operations of one transaction (`--max-txn-ops`), for each of its
 * compares, success and failure lists: etcd refuses a larger transaction outright. The
 * in-memory twin refuses what etcd refuses.
 */
export const MAX_OPERATIONS_PER_TXN = 128;

/** An engine schedule change writes up to three keys: 40 of them stay under the cap. */
export const MAX_CHANGES_PER_TXN = 40;

/**
 * etcd's default cap on one request's size (`--max-request-bytes`, 1.5 MiB): it refuses a
 * larger transaction outright, and so does the twin.
 */
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/**
 * What a batch of unit writes packs into one transaction, counted as its keys' and values'
 * bytes: the rest of `MAX_REQUEST_BYTES` is left for the framing of each operation.
 */
export const MAX_TXN_PAYLOAD_BYTES = MAX_REQUEST_BYTES - 64 * 1024;

/** What the framing of one compare or operation may take, counted against the payload. */
export const OPERATION_OVERHEAD_BYTES = 16;
