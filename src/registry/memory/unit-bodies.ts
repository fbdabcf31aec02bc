import { UnitFile } from '../../unit/unit-file.js';
import type { RegistryKeys } from '../keys.js';
import { type StoredBody, UnitFileNotFoundError } from '../model.js';
import type { UnitBodies } from '../ports.js';
import type { MemoryStore } from './store.js';

/** `EtcdUnitBodies` on the in-memory store, without its byte cap. */
export class MemoryUnitBodies implements UnitBodies {
  private readonly parsed = new Map<string, StoredBody>();

  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
  ) {}

  remember(hash: string, text: string): UnitFile {
    const known = this.parsed.get(hash);
    if (known !== undefined) return known.unitFile;
    const body = { text, unitFile: UnitFile.parse(text) };
    this.parsed.set(hash, body);
    return body.unitFile;
  }

  cached(hash: string): UnitFile | undefined {
    return this.parsed.get(hash)?.unitFile;
  }

  async get(hash: string): Promise<UnitFile> {
    return (await this.body(hash)).unitFile;
  }

  async body(hash: string): Promise<StoredBody> {
    const known = this.parsed.get(hash);
    if (known !== undefined) return known;
    const kv = this.store.get(this.keys.unitFile(hash));
    if (kv === null) throw new UnitFileNotFoundError(`unit file ${hash} is missing from etcd`);
    const body = { text: kv.value, unitFile: UnitFile.parse(kv.value) };
    this.parsed.set(hash, body);
    return body;
  }
}
