import type { Etcd3 } from 'etcd3';
import { UnitFile } from '../unit/unit-file.js';
import type { RegistryKeys } from './keys.js';

/** Bodies are immutable (named by their hash), so a read-through cache never goes stale. */
const MAX_CACHED_BODIES = 10_000;

export class UnitFileNotFoundError extends Error {
  override name = 'UnitFileNotFoundError';
}

/**
 * A unit body as stored: the exact text (what an agent writes to disk, so the file hashes
 * to the record's hash) and that text parsed again, which is what readers see. Like
 * fleet, the parse can differ from the options once submitted (a value holding a newline
 * and a section header becomes a section).
 */
export interface StoredBody {
  text: string;
  unitFile: UnitFile;
}

/** Reads unit-file bodies by the hash they are stored under, parsing each once. */
export class UnitFileCache {
  private readonly bodies = new Map<string, StoredBody>();

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
  ) {}

  /** Caches the canonical text about to be stored under `hash`. */
  remember(hash: string, text: string): void {
    // Same hash, same text: a body already parsed is not parsed again on every put.
    if (this.bodies.has(hash)) return;
    if (this.bodies.size >= MAX_CACHED_BODIES) this.bodies.clear();
    this.bodies.set(hash, { text, unitFile: UnitFile.parse(text) });
  }

  cached(hash: string): UnitFile | undefined {
    return this.bodies.get(hash)?.unitFile;
  }

  async get(hash: string): Promise<UnitFile> {
    return (await this.body(hash)).unitFile;
  }

  async body(hash: string): Promise<StoredBody> {
    const known = this.bodies.get(hash);
    if (known !== undefined) return known;
    const text = await this.etcd.get(this.keys.unitFile(hash)).string();
    if (text === null) throw new UnitFileNotFoundError(`unit file ${hash} is missing from etcd`);
    this.remember(hash, text);
    return this.bodies.get(hash)!;
  }
}
