import type { UnitFileChange } from './systemd-api.js';

/** Links unit files into systemd's runtime path: `LinkUnitFiles(files, runtime, force)`. */
export type LinkFiles = (files: string[]) => Promise<UnitFileChange[]>;

interface Pending {
  file: string;
  resolve(changes: UnitFileChange[]): void;
  reject(err: Error): void;
}

/**
 * Gathers the links asked for while one is under way into a single `LinkUnitFiles` call, so
 * that a pass loading hundreds of units makes a few calls instead of one per unit. systemd
 * links every file of a call (or refuses the call); when a batch fails, its files are
 * linked one by one, so each caller gets its own unit's answer.
 */
export class LinkBatcher {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(private readonly linkFiles: LinkFiles) {}

  /** Links one file; resolves with the changes systemd reported for it. */
  link(file: string): Promise<UnitFileChange[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ file, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // The next turn: the links asked for in this one go out together.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.linkBatch(batch);
    }
    this.flushing = false;
  }

  private async linkBatch(batch: readonly Pending[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const changes = await this.linkFiles(batch.map((pending) => pending.file));
        for (const pending of batch) pending.resolve(changesOf(changes, pending.file));
        return;
      } catch {
        // Find out whose link failed: one call per file.
      }
    }
    await Promise.all(
      batch.map(async (pending) => {
        try {
          pending.resolve(changesOf(await this.linkFiles([pending.file]), pending.file));
        } catch (err) {
          pending.reject(err as Error);
        }
      }),
    );
  }
}

/** The changes of one file among a batch's (systemd names the link and what it points to). */
function changesOf(changes: readonly UnitFileChange[], file: string): UnitFileChange[] {
  return changes.filter((change) => change.destination === file || change.file === file);
}
