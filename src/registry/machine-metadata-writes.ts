import type { Etcd3 } from 'etcd3';
import { decodeMachines } from './decode.js';
import { calledOffBy } from './etcd-client.js';
import type { RegistryKeys } from './keys.js';
import type { BadRecordHandler, Machine, MetadataEdit } from './model.js';
import { asText, DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { MachineMetadataWrites, WriteOptions } from './ports.js';
import { commitAll, etcdOps } from './txn.js';
import { metadataEditOps } from './txn-ops.js';

/**
 * Machines and their dynamic metadata. Metadata set through the API is kept apart from the
 * presence record so it survives the machine leaving and rejoining; an empty value is a
 * tombstone hiding a key of the machine's own configuration, as in fleet.
 */
export class EtcdMachineMetadataWrites implements MachineMetadataWrites {
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
    return decodeMachines(this.keys, asText(machines.kvs), asText(metadata.kvs), this.onBadRecord);
  }

  /** Applies the edits in one transaction (see `metadataEditOps`); none once called off. */
  async editMetadata(edits: readonly MetadataEdit[], { signal }: WriteOptions = {}): Promise<void> {
    await calledOffBy(signal, () =>
      commitAll(this.etcd, etcdOps(this.etcd, metadataEditOps(this.keys, edits))),
    );
  }
}
