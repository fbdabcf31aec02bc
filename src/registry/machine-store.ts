import type { Etcd3 } from 'etcd3';
import { RegistryKeys } from './keys.js';
import { type BadRecordHandler, type Machine, type MetadataEdit, mergeMetadata } from './model.js';
import { DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { MachineMetadataWrites } from './ports.js';
import { decodeRecord, machineRecordSchema } from './records.js';
import { commitAll } from './txn.js';

/**
 * Machines and their dynamic metadata. Metadata set through the API is kept apart from the
 * presence record so it survives the machine leaving and rejoining; an empty value is a
 * tombstone hiding a key of the machine's own configuration, as in fleet.
 */
export class MachineStore implements MachineMetadataWrites {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
  ) {}

  /** Live machines, sorted by ID. */
  async list(): Promise<Machine[]> {
    const machines = await readPrefix(this.etcd, this.keys.machinesPrefix, {
      pageSize: this.pageSize,
    });
    // At the same revision, so that metadata and the machines it belongs to agree.
    const metadata = await readPrefix(this.etcd, this.keys.allMachineMetadataPrefix, {
      pageSize: this.pageSize,
      revision: machines.revision,
    });
    const dynamic = new Map<string, Map<string, string>>();
    for (const kv of metadata.kvs) {
      const pair = RegistryKeys.pairUnder(this.keys.allMachineMetadataPrefix, kv.key.toString());
      if (pair === null) continue;
      const [machineID, key] = pair;
      const forMachine = dynamic.get(machineID) ?? new Map<string, string>();
      forMachine.set(key, kv.value.toString());
      dynamic.set(machineID, forMachine);
    }
    const result: Machine[] = [];
    for (const kv of machines.kvs) {
      const key = kv.key.toString();
      if (RegistryKeys.nameUnder(this.keys.machinesPrefix, key) === null) continue;
      try {
        const { sessionToken: _, ...record } = decodeRecord(
          machineRecordSchema,
          key,
          kv.value.toString(),
        );
        result.push({
          ...record,
          metadata: mergeMetadata(record.metadata, dynamic.get(record.id)),
        });
      } catch (err) {
        this.onBadRecord(key, err as Error);
      }
    }
    return result.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Applies the edits in one transaction. etcd refuses a key twice in a transaction, and
   * applying edits in order leaves each key with its last value, so only that one is sent.
   */
  async editMetadata(edits: readonly MetadataEdit[]): Promise<void> {
    const finalValues = new Map<string, string>();
    for (const { machineID, key, value } of edits) {
      finalValues.set(this.keys.machineMetadata(machineID, key), value ?? '');
    }
    await commitAll(
      this.etcd,
      [...finalValues].map(([key, value]) => this.etcd.put(key).value(value)),
    );
  }
}
