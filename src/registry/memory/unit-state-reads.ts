import { compareStrings, decodeUnitStates, sortUnitStates } from '../decode.js';
import type { RegistryKeys } from '../keys.js';
import type { BadRecordHandler, UnitState } from '../model.js';
import type { UnitStateReads } from '../ports.js';
import type { MemoryStore } from './store.js';

/** `EtcdUnitStateReads` on the in-memory store. */
export class MemoryUnitStateReads implements UnitStateReads {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
  ) {}

  /** Every published state, sorted by unit name, then machine ID. */
  list(): UnitState[] {
    const { kvs } = this.store.range(this.keys.statesPrefix);
    return sortUnitStates(decodeUnitStates(this.keys, kvs, this.onBadRecord));
  }

  async forUnit(name: string): Promise<UnitState[]> {
    const { kvs } = this.store.range(this.keys.unitStatesPrefix(name));
    return decodeUnitStates(this.keys, kvs, this.onBadRecord).sort((a, b) =>
      compareStrings(a.machineID, b.machineID),
    );
  }
}
