import { type IKeyValue, type Namespace, Range } from 'etcd3';
import type { StoredKey } from './decode.js';

/**
 * Keys per Range request when a whole prefix is read. grpc-js refuses a reply over 4 MiB, and
 * a prefix read whole holds records of at most a few KiB (unit records, placements, schedule
 * entries, states, machines and their metadata), so 500 keys stay far below it whatever the
 * cluster's size. Unit bodies, up to 1 MiB each, are read one by one, or here as keys only.
 */
export const DEFAULT_PAGE_SIZE = 500;

export interface PrefixReadOptions {
  /** Keys per Range request. */
  pageSize?: number;
  /** Read at this revision instead of the first page's (so two prefixes agree). */
  revision?: string;
  /** Keys and revisions only, no values. */
  keysOnly?: boolean;
}

/** Every key under a prefix as of one revision, in key order. */
export interface PrefixContent {
  revision: string;
  kvs: IKeyValue[];
}

/**
 * Reads every key under `prefix` in pages, one Range request each, so that no reply nears
 * gRPC's message limit however many keys there are. Later pages are read at the first page's
 * revision: the pages form one snapshot, as a single read would. etcd refuses a compacted
 * revision, which fails the read rather than mixing two snapshots.
 *
 * Keys are absolute: `client` is the root namespace (or `namespace('')`).
 */
export async function readPrefix(
  client: Namespace,
  prefix: string,
  { pageSize = DEFAULT_PAGE_SIZE, revision, keysOnly = false }: PrefixReadOptions = {},
): Promise<PrefixContent> {
  const whole = Range.prefix(prefix);
  const kvs: IKeyValue[] = [];
  let atRevision = revision;
  let from = whole.start;
  for (;;) {
    const page = await client.kv.range({
      key: from,
      range_end: whole.end,
      limit: pageSize,
      keys_only: keysOnly,
      ...(atRevision !== undefined && { revision: atRevision }),
    });
    atRevision ??= page.header.revision;
    kvs.push(...page.kvs);
    const last = page.kvs.at(-1);
    if (!page.more || last === undefined) return { revision: atRevision, kvs };
    from = Buffer.concat([last.key, Buffer.from([0])]);
  }
}

/** Keys and values as text, for the decoders both stores share (`decode.ts`). */
export function asText(kvs: Iterable<IKeyValue>): StoredKey[] {
  return Array.from(kvs, (kv) => ({ key: kv.key.toString(), value: kv.value.toString() }));
}
