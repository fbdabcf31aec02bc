import type { Etcd3, IKeyValue } from 'etcd3';
import { compareStrings, decodeUnitStates, sortUnitStates } from './decode.js';
import type { RegistryKeys } from './keys.js';
import type { BadRecordHandler, UnitState } from './model.js';
import { asText, DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { UnitStateReads } from './ports.js';

/** Unit states as agents published them; each vanishes with its machine's lease. */
export class EtcdUnitStateReads implements UnitStateReads {
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
    return sortUnitStates(decodeUnitStates(this.keys, asText(kvs), this.onBadRecord));
  }

  /** The states of one unit, one per machine that reports it, sorted by machine ID. */
  async forUnit(name: string): Promise<UnitState[]> {
    const { kvs } = await readPrefix(this.etcd, this.keys.unitStatesPrefix(name), {
      pageSize: this.pageSize,
    });
    return decodeUnitStates(this.keys, asText(kvs), this.onBadRecord).sort((a, b) =>
      compareStrings(a.machineID, b.machineID),
    );
  }
}
