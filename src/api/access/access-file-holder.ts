import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errorMessage } from '../../error-message.js';
import { type AccessList, EMPTY_ACCESS_LIST, parseAccessFile } from './access-file.js';

/**
 * The access list in force, read from `api_access_file` at start and again on each SIGHUP, so
 * that a revoked token is refused without a restart. A reload that fails keeps the list it had.
 */
export class AccessFileHolder {
  private list: AccessList = EMPTY_ACCESS_LIST;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  current(): AccessList {
    return this.list;
  }

  /**
   * A missing file grants nothing (every TCP caller gets 401 until one is written and fleetd
   * gets SIGHUP); a file that is there but wrong stops fleetd, as a wrong fleet.conf does.
   */
  async loadAtStart(): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw new Error(`access file ${this.path}: ${errorMessage(err)}`);
    });
    if (text === null) {
      this.log.warn(
        `Access file ${this.path} does not exist: every caller on a TLS listener is refused until it is written and fleetd gets SIGHUP`,
      );
      return;
    }
    this.list = parseAccessFile(text, this.path);
    this.logLoaded();
  }

  async reload(): Promise<void> {
    try {
      this.list = parseAccessFile(await readFile(this.path, 'utf8'), this.path);
      this.logLoaded();
    } catch (err) {
      this.log.error({ err }, `Keeping the previous grants: ${errorMessage(err)}`);
    }
  }

  private logLoaded(): void {
    this.log.info(
      { tokens: this.list.tokens.length, certificates: this.list.certificates.length },
      `Loaded access file ${this.path}`,
    );
  }
}
