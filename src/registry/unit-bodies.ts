import type { Etcd3 } from 'etcd3';
import { UnitFile } from '../unit/unit-file.js';
import type { RegistryKeys } from './keys.js';
import { type StoredBody, UnitFileNotFoundError } from './model.js';
import type { UnitBodies } from './ports.js';

/**
 * Bytes of body text kept. A body may be 1 MiB, so a cap by count would not bound memory;
 * this one holds a thousand bodies of 16 KiB, far more than usual units.
 */
export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Reads unit-file bodies by the hash they are stored under, parsing each once. Bodies are
 * immutable (named by their hash), so the cache never goes stale; it holds at most `maxBytes`
 * of text, dropping the least recently used bodies first.
 */
export class EtcdUnitBodies implements UnitBodies {
  /** In order of use, the least recent first. */
  private readonly bodies = new Map<string, StoredBody>();
  private bytes = 0;

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly maxBytes = DEFAULT_CACHE_BYTES,
  ) {}

  /** Caches the canonical text about to be stored under `hash`; returns it parsed. */
  remember(hash: string, text: string): UnitFile {
    // Same hash, same text: a body already parsed is not parsed again on every put.
    const known = this.use(hash);
    if (known !== undefined) return known.unitFile;
    const body = { text, unitFile: UnitFile.parse(text) };
    this.keep(hash, body);
    return body.unitFile;
  }

  cached(hash: string): UnitFile | undefined {
    return this.use(hash)?.unitFile;
  }

  async get(hash: string): Promise<UnitFile> {
    return (await this.body(hash)).unitFile;
  }

  async body(hash: string): Promise<StoredBody> {
    const known = this.use(hash);
    if (known !== undefined) return known;
    const text = await this.etcd.get(this.keys.unitFile(hash)).string();
    if (text === null) throw new UnitFileNotFoundError(`unit file ${hash} is missing from etcd`);
    const body = this.use(hash) ?? { text, unitFile: UnitFile.parse(text) };
    this.keep(hash, body);
    return body;
  }

  /** The cached body, marked as the most recently used. */
  private use(hash: string): StoredBody | undefined {
    const body = this.bodies.get(hash);
    if (body !== undefined) {
      this.bodies.delete(hash);
      this.bodies.set(hash, body);
    }
    return body;
  }

  private keep(hash: string, body: StoredBody): void {
    if (this.bodies.has(hash)) return;
    const size = Buffer.byteLength(body.text);
    // A body larger than the whole cache is served, never kept.
    if (size > this.maxBytes) return;
    for (const [oldest, old] of this.bodies) {
      if (this.bytes + size <= this.maxBytes) break;
      this.bodies.delete(oldest);
      this.bytes -= Buffer.byteLength(old.text);
    }
    this.bodies.set(hash, body);
    this.bytes += size;
  }
}
