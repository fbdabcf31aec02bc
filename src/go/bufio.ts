import { decodeRune, fullRune } from './text.js';

const DEFAULT_BUFFER_SIZE = 4096;
const UTF_MAX = 4;

export class GoEOF extends Error {
  constructor() {
    super('EOF');
  }
}

/** One sentinel, like Go's `io.EOF`: every unit file read ends in it, and a stack costs. */
const EOF = new GoEOF();

/**
 * Go's `bufio.Reader` over an in-memory byte source (`strings.Reader`), reproduced byte for
 * byte. go-systemd's unit lexer rejects long lines by peeking only at what is currently
 * buffered, so whether a long line is accepted depends on exactly when this buffer refills.
 */
export class GoBufferedReader {
  private readonly buf = new Uint8Array(DEFAULT_BUFFER_SIZE);
  private r = 0;
  private w = 0;
  private sourceExhausted = false;
  private sourcePos = 0;
  private lastRuneSize = -1;

  constructor(private readonly source: Uint8Array) {}

  buffered(): number {
    return this.w - this.r;
  }

  private fill(): void {
    if (this.r > 0) {
      this.buf.copyWithin(0, this.r, this.w);
      this.w -= this.r;
      this.r = 0;
    }
    const remaining = this.source.length - this.sourcePos;
    if (remaining === 0) {
      this.sourceExhausted = true;
      return;
    }
    const n = Math.min(this.buf.length - this.w, remaining);
    this.buf.set(this.source.subarray(this.sourcePos, this.sourcePos + n), this.w);
    this.sourcePos += n;
    this.w += n;
  }

  /** Go hands out a read error once and then clears it (`readErr`). */
  private takeEOF(): GoEOF {
    this.sourceExhausted = false;
    return EOF;
  }

  /** Returns the rune, or throws GoEOF at the end of input. */
  readRune(): number {
    while (
      this.r + UTF_MAX > this.w &&
      !fullRune(this.buf, this.r, this.w) &&
      !this.sourceExhausted &&
      this.w - this.r < this.buf.length
    ) {
      this.fill();
    }
    this.lastRuneSize = -1;
    if (this.r === this.w) throw this.takeEOF();
    const [rune, size] = decodeRune(this.buf, this.r, this.w);
    this.r += size;
    this.lastRuneSize = size;
    return rune;
  }

  unreadRune(): void {
    if (this.lastRuneSize < 0 || this.r < this.lastRuneSize) {
      throw new Error('bufio: invalid use of UnreadRune');
    }
    this.r -= this.lastRuneSize;
    this.lastRuneSize = -1;
  }

  /** `Peek(n)` for n no larger than what is buffered, which is the only way the lexer calls it. */
  peekBuffered(n: number): Uint8Array {
    this.lastRuneSize = -1;
    return this.buf.subarray(this.r, this.r + Math.min(n, this.buffered()));
  }

  private readSlice(delim: number): { line: Uint8Array; status: 'found' | 'full' | 'eof' } {
    let searchFrom = 0;
    for (;;) {
      const i = this.buf.subarray(this.r + searchFrom, this.w).indexOf(delim);
      if (i >= 0) {
        const end = this.r + searchFrom + i + 1;
        const line = this.buf.slice(this.r, end);
        this.r = end;
        return { line, status: 'found' };
      }
      if (this.sourceExhausted) {
        const line = this.buf.slice(this.r, this.w);
        this.r = this.w;
        this.takeEOF();
        return { line, status: 'eof' };
      }
      if (this.buffered() >= this.buf.length) {
        this.r = this.w;
        return { line: this.buf.slice(), status: 'full' };
      }
      searchFrom = this.w - this.r;
      this.fill();
    }
  }

  /** `ReadBytes(delim)`: the bytes up to and including delim, and whether input ended first. */
  readBytes(delim: number): { bytes: Uint8Array; eof: boolean } {
    const fragments: Uint8Array[] = [];
    for (;;) {
      const { line, status } = this.readSlice(delim);
      fragments.push(line);
      if (status !== 'full') {
        this.lastRuneSize = -1;
        return { bytes: concatBytes(fragments), eof: status === 'eof' };
      }
    }
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
