import type { Etcd3, IKeyValue } from 'etcd3';
import { calledOffBy } from './etcd-client.js';
import type { RegistryKeys } from './keys.js';
import { MAX_OPERATIONS_PER_TXN } from './limits.js';
import { type BadRecordHandler, RegistryConflictError, type StoredUnit } from './model.js';
import { asText, DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { WriteOptions } from './ports.js';
import { decodeRecord, encodeRecord, unitRecordSchema } from './records.js';
import { etcdOps, guardedTxn } from './txn.js';
import { keepsPlacement, type UnitWrite, unitWriteOps } from './txn-ops.js';
import type { UnitTxn } from './unit-batch-txns.js';
import type { EtcdUnitBodies } from './unit-bodies.js';
import {
  type BatchTxnResult,
  MAX_WRITE_ATTEMPTS,
  type NextWrite,
  type SeenKey,
  type SeenUnit,
  UNCHANGED,
  UnitRecordsBase,
} from './unit-records-base.js';

/** Units whose keys this store last wrote, remembered as guesses for the next write. */
const MAX_REMEMBERED_WRITES = 4096;

/**
 * Units as API clients (the HTTP API and fleetctl's etcd driver) read and write them.
 * A write that changes a scheduled unit also rewrites its machine's schedule entry in the
 * same transaction, guarded by mod revisions, so an agent always runs what the unit record
 * says and a destroyed unit never keeps a schedule entry.
 */
export class EtcdUnitRecords extends UnitRecordsBase {
  /**
   * The keys of the units this store last wrote, as its transactions left them. Only a
   * guess: every write stays guarded by mod revisions, and a wrong guess costs the round
   * trip that reads the keys back. It spares the read when a client changes a unit it just
   * wrote (fleetctl creates a unit, then sets its desired state).
   */
  private readonly lastWritten = new Map<string, SeenUnit>();

  constructor(
    private readonly etcd: Etcd3,
    keys: RegistryKeys,
    bodies: EtcdUnitBodies,
    onBadRecord: BadRecordHandler,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
  ) {
    super(bodies, keys, onBadRecord);
  }

  protected guessKeys(name: string): SeenUnit | null {
    return this.lastWritten.get(name) ?? null;
  }

  /** Reads the keys in transactions of gets, as many as etcd's cap takes at once. */
  protected async readKeys(names: readonly string[], signal?: AbortSignal): Promise<SeenUnit[]> {
    const perTxn = MAX_OPERATIONS_PER_TXN / 2;
    const read: SeenUnit[] = [];
    for (let start = 0; start < names.length; start += perTxn) {
      const chunk = names.slice(start, start + perTxn);
      const gets = chunk.flatMap((name) => [
        this.etcd.get(this.keys.unit(name)),
        this.etcd.get(this.keys.placement(name)),
      ]);
      const { responses } = await calledOffBy(signal, async () =>
        this.etcd.kv.txn({
          compare: [],
          success: await Promise.all(gets.map((get) => get.op())),
          failure: [],
        }),
      );
      const seen = responses.map((response) => seenKey(response.response_range?.kvs?.[0]));
      chunk.forEach((_, index) => {
        read.push({ unit: seen[index * 2] ?? null, placement: seen[index * 2 + 1] ?? null });
      });
    }
    return read;
  }

  protected async commitTxn(txn: UnitTxn, signal?: AbortSignal): Promise<BatchTxnResult> {
    const [first, ...rest] = txn.guards;
    if (first === undefined) throw new Error('a batch transaction needs guards');
    const result = await calledOffBy(signal, () =>
      guardedTxn(this.etcd, [first, ...rest])
        .then(...etcdOps(this.etcd, txn.ops))
        .else(...txn.reads.map((key) => this.etcd.get(key)))
        .commit(),
    );
    return {
      succeeded: result.succeeded,
      revision: result.header.revision,
      reads: result.succeeded
        ? []
        : result.responses.map((response) => seenKey(response.response_range?.kvs?.[0])),
    };
  }

  protected override noteWritten(
    name: string,
    change: UnitWrite,
    placement: SeenKey | null,
    revision: string,
  ): void {
    this.rememberWrite(name, change, placement, revision);
  }

  /** The unit, or null when there is none or it is unusable (see `usable`). */
  async get(name: string): Promise<StoredUnit | null> {
    const key = this.keys.unit(name);
    const value = await this.etcd.get(key).string();
    return value === null ? null : this.usable(key, value);
  }

  /** Every unit, sorted by name; unusable records are reported and left out. */
  async list(): Promise<StoredUnit[]> {
    const { kvs } = await readPrefix(this.etcd, this.keys.unitsPrefix, { pageSize: this.pageSize });
    return this.fromKvs(kvs);
  }

  /** The units stored in `kvs` (a read of the whole units prefix), as `usableUnits`. */
  fromKvs(kvs: readonly IKeyValue[]): Promise<StoredUnit[]> {
    return this.usableUnits(asText(kvs));
  }

  /**
   * Computes the unit's new state with `next` (null deletes the unit) from its record and
   * placement, and commits it only if neither changed meanwhile. A commit that lost a race
   * reads both back in the same transaction, so a retry costs one round trip. With
   * `assumeAbsent`, the first attempt guesses that neither exists (a new unit, the common
   * put) and so costs a single transaction. Once `signal` is aborted, nothing more is read
   * or committed.
   */
  protected async write(
    name: string,
    next: NextWrite,
    { assumeAbsent = false, signal }: WriteOptions & { assumeAbsent?: boolean },
  ): Promise<void> {
    return calledOffBy(signal, () => this.writeGuarded(name, next, assumeAbsent, signal));
  }

  private async writeGuarded(
    name: string,
    next: NextWrite,
    assumeAbsent: boolean,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const unitKey = this.keys.unit(name);
    const placementKey = this.keys.placement(name);
    let seen: SeenUnit | null =
      this.lastWritten.get(name) ?? (assumeAbsent ? { unit: null, placement: null } : null);
    // A guess may only lead to a write, which its guard checks; deciding to write nothing
    // needs the keys as they are.
    let guessed = seen !== null;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      signal?.throwIfAborted();
      const { unit, placement } = seen ?? (await this.read(unitKey, placementKey));
      const current = unit === null ? null : decodeRecord(unitRecordSchema, unitKey, unit.value);
      const change = await next(current);
      signal?.throwIfAborted();
      if (change === UNCHANGED || (change === null && current === null)) {
        if (!guessed) return;
        this.lastWritten.delete(name);
        seen = null;
        guessed = false;
        continue;
      }

      const machineID = placement?.value ?? null;
      const result = await this.etcd
        .if(unitKey, 'Mod', '==', unit?.modRevision ?? 0)
        .and(placementKey, 'Mod', '==', placement?.modRevision ?? 0)
        .then(...etcdOps(this.etcd, unitWriteOps(this.keys, name, change, machineID)))
        .else(this.etcd.get(unitKey), this.etcd.get(placementKey))
        .commit();
      if (result.succeeded) {
        this.rememberWrite(name, change, placement, result.header.revision);
        return;
      }
      const [unitNow, placementNow] = result.responses.map((response) =>
        seenKey(response.response_range?.kvs?.[0]),
      );
      seen = { unit: unitNow ?? null, placement: placementNow ?? null };
      guessed = false;
    }
    throw new RegistryConflictError(
      `unit ${name} kept changing under concurrent writers; gave up after ${MAX_WRITE_ATTEMPTS} attempts`,
    );
  }

  /** How a successful write left the unit's keys, for the next write to guess from. */
  private rememberWrite(
    name: string,
    change: UnitWrite | null,
    placement: SeenKey | null,
    revision: string,
  ): void {
    this.lastWritten.delete(name);
    if (change === null) return;
    if (this.lastWritten.size >= MAX_REMEMBERED_WRITES) this.lastWritten.clear();
    this.lastWritten.set(name, {
      unit: { modRevision: revision, value: encodeRecord(change.record) },
      placement: placement !== null && keepsPlacement(change) ? placement : null,
    });
  }

  private async read(unitKey: string, placementKey: string): Promise<SeenUnit> {
    const [unit, placement] = await Promise.all([
      this.etcd.get(unitKey).exec(),
      this.etcd.get(placementKey).exec(),
    ]);
    return { unit: seenKey(unit.kvs[0]), placement: seenKey(placement.kvs[0]) };
  }
}

function seenKey(kv: { mod_revision: string; value: Buffer } | undefined): SeenKey | null {
  return kv === undefined ? null : { modRevision: kv.mod_revision, value: kv.value.toString() };
}
