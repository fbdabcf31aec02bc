/**
 * Where a follower of the event stream stands, so that after a dropped connection it
 * resumes with nothing lost and nothing twice. The lines of one revision may be cut in the
 * middle, so it resumes after the last revision it saw whole; the lines of the revision it
 * was in come again, the same, and those already handed on are recognised and skipped.
 */
export class EventStreamPosition {
  /** The revision seen whole (or the one the follow started after). */
  private whole: string | null;
  private current: string | null = null;
  private currentLines = new Set<string>();

  constructor(since: string | null) {
    this.whole = since;
  }

  /** The revision to resume after: null to start again from a snapshot. */
  get since(): string | null {
    return this.whole;
  }

  /** Whether `line` is new; notes its revision. */
  accept(line: string): boolean {
    const revision = revisionOf(line);
    if (revision === null) return true;
    if (revision !== this.current) {
      if (this.current !== null) this.whole = this.current;
      this.current = revision;
      this.currentLines = new Set();
    }
    if (this.currentLines.has(line)) return false;
    this.currentLines.add(line);
    return true;
  }
}

function revisionOf(line: string): string | null {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return null;
    const { revision } = value as { revision?: unknown };
    return typeof revision === 'string' && /^[1-9][0-9]*$/.test(revision) ? revision : null;
  } catch {
    return null;
  }
}
