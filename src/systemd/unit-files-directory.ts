import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isUnitFileName } from './unit-name-guard.js';

/** The directory fleet writes its unit files into (`units_directory`, `/run/fleet/units`). */
export class UnitFilesDirectory {
  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  async create(): Promise<void> {
    await mkdir(this.path, { recursive: true, mode: 0o755 });
  }

  fileOf(name: string): string {
    return join(this.path, name);
  }

  /** Writes (or overwrites) a unit file; resolves with its size in bytes. */
  async write(name: string, text: string): Promise<number> {
    const content = Buffer.from(text, 'utf8');
    await writeFile(this.fileOf(name), content, { mode: 0o644 });
    return content.length;
  }

  async remove(name: string): Promise<void> {
    await rm(this.fileOf(name), { force: true });
  }

  /** Unit files present (any unit type), name → SHA-1 hex of their content. */
  async list(): Promise<Map<string, string>> {
    const hashes = new Map<string, string>();
    for (const entry of await readdir(this.path, { withFileTypes: true })) {
      if (!entry.isFile() || !isUnitFileName(entry.name)) {
        this.log.warn(`Found unrecognized file in ${this.fileOf(entry.name)}, ignoring`);
        continue;
      }
      const content = await readUnlessGone(this.fileOf(entry.name));
      if (content === null) continue; // unloaded meanwhile
      hashes.set(entry.name, createHash('sha1').update(content).digest('hex'));
    }
    return hashes;
  }
}

async function readUnlessGone(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
