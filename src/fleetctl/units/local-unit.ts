import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { goPathError } from '../../go/path-error.js';
import { UnitFile } from '../../unit/unit-file.js';

/** Unit files named on the command line, read relative to fleetctl's working directory. */
export class LocalUnits {
  constructor(private readonly cwd: string) {}

  /**
   * Go's `!os.IsNotExist(os.Stat(path))`: anything but "no such file" counts as present,
   * so an unreadable file is reported when it is read.
   */
  async present(path: string): Promise<boolean> {
    try {
      await stat(resolve(this.cwd, path));
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }

  /** The Go `stat` error, or null when the path can be stat'ed. */
  async statError(path: string): Promise<Error | null> {
    try {
      await stat(resolve(this.cwd, path));
      return null;
    } catch (err) {
      return new Error(goPathError(err, path).replace(/^(open|read) /, 'stat '));
    }
  }

  /** Reads and parses a unit file; errors carry Go's text (`open x: ...`, parse errors). */
  async read(path: string): Promise<UnitFile> {
    let bytes: Buffer;
    try {
      bytes = await readFile(resolve(this.cwd, path));
    } catch (err) {
      throw new Error(goPathError(err, path));
    }
    return UnitFile.parse(bytes);
  }
}
