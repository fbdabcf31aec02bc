import type { Etcd3 } from 'etcd3';
import { UnitFile } from '../unit/unit-file.js';
import type { RegistryKeys } from './keys.js';

/** Bodies are immutable (named by their hash), so a read-through cache never goes stale. */
const MAX_CACHED_BODIES = 10_000;

export class UnitFileNotFoundError extends Error {
  override name = 'UnitFileNotFoundError';
}

/** Reads unit-file bodies by the hash they are stored under, parsing each once. */
export class UnitFileCache {
  private readonly bodies = new Map<string, UnitFile>();

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
  ) {}

  /**
   * Caches the body stored under `hash`. Like fleet, readers see the stored canonical text
   * parsed again, which can differ from the options submitted (a value holding a newline
   * and a section header becomes a section), so callers pass that re-parsed unit.
   */
  remember(hash: string, unit: UnitFile): void {
    if (this.bodies.size >= MAX_CACHED_BODIES) this.bodies.clear();
    this.bodies.set(hash, unit);
  }

  cached(hash: string): UnitFile | undefined {
    return this.bodies.get(hash);
  }

  async get(hash: string): Promise<UnitFile> {
    const known = this.bodies.get(hash);
    if (known !== undefined) return known;
    const text = await this.etcd.get(this.keys.unitFile(hash)).string();
    if (text === null) throw new UnitFileNotFoundError(`unit file ${hash} is missing from etcd`);
    const unit = UnitFile.parse(text);
    this.remember(hash, unit);
    return unit;
  }

  /** Fetches every hash not cached yet, concurrently. */
  async prefetch(hashes: Iterable<string>): Promise<void> {
    const missing = [...new Set(hashes)].filter((hash) => !this.bodies.has(hash));
    await Promise.all(missing.map((hash) => this.get(hash)));
  }
}
