import type { Etcd3, IKeyValue } from 'etcd3';
import { RegistryKeys } from './keys.js';
import type { BadRecordHandler, UnitState } from './model.js';
import { DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { UnitStateReads } from './ports.js';
import { decodeRecord, unitStateRecordSchema } from './records.js';

/** Unit states as agents published them; each vanishes with its machine's lease. */
export class StateStore implements UnitStateReads {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
  ) {}

  /** Every published state, sorted by unit name, then machine ID. */
  async list(): Promise<UnitState[]> {
    const { kvs } = await readPrefix(this.etcd, this.keys.statesPrefix, {
      pageSize: this.pageSize,
    });
    return this.fromKvs(kvs);
  }

  /** The states stored in `kvs` (a read of the whole states prefix), sorted as `list`'s. */
  fromKvs(kvs: readonly IKeyValue[]): UnitState[] {
    return this.decode(kvs).sort(
      (a, b) => compare(a.name, b.name) || compare(a.machineID, b.machineID),
    );
  }

  /** The states of one unit, one per machine that reports it, sorted by machine ID. */
  async forUnit(name: string): Promise<UnitState[]> {
    const { kvs } = await readPrefix(this.etcd, this.keys.unitStatesPrefix(name), {
      pageSize: this.pageSize,
    });
    return this.decode(kvs).sort((a, b) => compare(a.machineID, b.machineID));
  }

  private decode(kvs: ReadonlyArray<{ key: Buffer; value: Buffer }>): UnitState[] {
    const states: UnitState[] = [];
    for (const kv of kvs) {
      const key = kv.key.toString();
      const pair = RegistryKeys.pairUnder(this.keys.statesPrefix, key);
      if (pair === null) continue;
      try {
        const record = decodeRecord(unitStateRecordSchema, key, kv.value.toString());
        states.push({ ...record, name: pair[0], machineID: pair[1] });
      } catch (err) {
        this.onBadRecord(key, err as Error);
      }
    }
    return states;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
