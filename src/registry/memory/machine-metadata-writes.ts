import { decodeMachines } from '../decode.js';
import type { RegistryKeys } from '../keys.js';
import type { BadRecordHandler, Machine, MetadataEdit } from '../model.js';
import type { MachineMetadataWrites, WriteOptions } from '../ports.js';
import { metadataEditOps } from '../txn-ops.js';
import type { MemoryStore } from './store.js';

/** `EtcdMachineMetadataWrites` on the in-memory store. */
export class MemoryMachineMetadataWrites implements MachineMetadataWrites {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
  ) {}

  /** Live machines, sorted by ID. */
  list(): Machine[] {
    const machines = this.store.range(this.keys.machinesPrefix);
    const metadata = this.store.range(this.keys.allMachineMetadataPrefix, machines.revision);
    return decodeMachines(this.keys, machines.kvs, metadata.kvs, this.onBadRecord);
  }

  async editMetadata(edits: readonly MetadataEdit[], { signal }: WriteOptions = {}): Promise<void> {
    signal?.throwIfAborted();
    const ops = metadataEditOps(this.keys, edits);
    if (ops.length === 0) return;
    this.store.txn({ compare: [], success: ops });
  }
}
