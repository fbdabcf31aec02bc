import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isUnitFileName } from './unit-name-guard.js';

/**
 * Unit files are readable by root and its group only: their `Environment=` lines often hold
 * secrets. fleet wrote them 0644.
 */
export const UNIT_FILE_MODE = 0o640;

/** The directory fleet writes its unit files into (`units_directory`, `/run/fleet/units`). */
export class UnitFilesDirectory {
  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Creates the directory, and takes from files an earlier fleetd left any bit beyond 0640. */
  async create(): Promise<void> {
    await mkdir(this.path, { recursive: true, mode: 0o755 });
    for (const entry of await readdir(this.path, { withFileTypes: true })) {
      if (entry.isFile()) await restrictMode(this.fileOf(entry.name));
    }
  }

  fileOf(name: string): string {
    return join(this.path, name);
  }

  /** Writes (or overwrites) a unit file; resolves with its size in bytes. */
  async write(name: string, text: string): Promise<number> {
    const content = Buffer.from(text, 'utf8');
    const file = this.fileOf(name);
    await writeFile(file, content, { mode: UNIT_FILE_MODE });
    // The mode given to writeFile only applies to a file it creates.
    await restrictMode(file);
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

async function restrictMode(file: string): Promise<void> {
  try {
    const { mode } = await stat(file);
    if ((mode & 0o777 & ~UNIT_FILE_MODE) !== 0) await chmod(file, mode & UNIT_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
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
