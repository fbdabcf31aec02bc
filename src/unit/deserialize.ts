import { concatBytes, GoBufferedReader, GoEOF } from '../go/bufio.js';
import {
  decodeUtf8,
  formatByteSlice,
  isGoSpace,
  trimGoSpace,
  trimGoSpaceBytes,
} from '../go/text.js';

/** One `Name=Value` line of a unit file, in file order. */
export interface UnitOption {
  section: string;
  name: string;
  value: string;
}

/** A unit file that go-systemd's parser refuses; the message is the original's text. */
export class UnitFileParseError extends Error {
  override name = 'UnitFileParseError';
}

/** systemd's LINE_MAX, which go-systemd enforces against its read buffer. */
const LINE_MAX = 2048;
const CR = 0x0d;
const LF = 0x0a;
const BACKSLASH = 0x5c;
const SPACE = 0x20;

const isComment = (r: number) => r === 0x23 /* # */ || r === 0x3b; /* ; */

type Step = () => Step | null;

/**
 * Parses a unit file exactly as go-systemd's `unit.Deserialize` (the version fleet v1.0
 * vendored) does, quirks included: CR before a continuation backslash stops the
 * continuation, and a line of 2048 bytes or more is rejected only when the reader's
 * 4096-byte buffer happens to hold 2048 bytes without a newline before a lexer step.
 */
export function deserializeUnitFile(contents: string | Uint8Array): UnitOption[] {
  const bytes = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
  return new Lexer(bytes).run();
}

class Lexer {
  private readonly buf: GoBufferedReader;
  private readonly options: UnitOption[] = [];

  constructor(source: Uint8Array) {
    this.buf = new GoBufferedReader(source);
  }

  run(): UnitOption[] {
    let next: Step | null = () => this.lexNextSection();
    while (next !== null) {
      if (this.buf.buffered() >= LINE_MAX) {
        const window = this.buf.peekBuffered(LINE_MAX);
        if (!window.includes(CR) && !window.includes(LF)) {
          throw new UnitFileParseError(`line too long (max ${LINE_MAX} bytes)`);
        }
      }
      next = next();
    }
    return this.options;
  }

  /** Reads a rune, mapping end of input to `null` where the lexer treats it as a clean end. */
  private readRuneOrEnd(): number | null {
    try {
      return this.buf.readRune();
    } catch (err) {
      if (err instanceof GoEOF) return null;
      throw err;
    }
  }

  /** Reads to the end of the line, dropping one trailing LF and then one trailing CR before it. */
  private toEOL(): { line: Uint8Array; eof: boolean } {
    const { bytes, eof } = this.buf.readBytes(LF);
    let end = bytes.length;
    // Go trims '\r' first and '\n' second, so "x\r\n" keeps its '\r'.
    if (end > 0 && bytes[end - 1] === CR) end--;
    if (end > 0 && bytes[end - 1] === LF) end--;
    return { line: bytes.subarray(0, end), eof };
  }

  private lexNextSection(): Step | null {
    const r = this.readRuneOrEnd();
    if (r === null) return null;
    if (r === 0x5b /* [ */) return () => this.lexSectionName();
    if (isComment(r)) return this.ignoreLine(() => this.lexNextSection());
    return () => this.lexNextSection();
  }

  private lexSectionName(): Step {
    const { bytes, eof } = this.buf.readBytes(0x5d /* ] */);
    if (eof) throw new UnitFileParseError('unable to find end of section');
    const section = decodeUtf8(bytes.subarray(0, bytes.length - 1));
    return () => this.lexSectionSuffix(section);
  }

  private lexSectionSuffix(section: string): Step {
    const garbage = trimGoSpaceBytes(this.toEOL().line);
    if (garbage.length > 0) {
      // The original formats an always-empty "current section" field into this message.
      throw new UnitFileParseError(
        `found garbage after section name : ${formatByteSlice(garbage)}`,
      );
    }
    return () => this.lexNextSectionOrOption(section);
  }

  private ignoreLine(next: Step): Step {
    return () => {
      for (;;) {
        let { line } = this.toEOL();
        if (line.length > 0 && line[line.length - 1] === SPACE) line = line.subarray(0, -1);
        if (line.length === 0 || line[line.length - 1] !== BACKSLASH) break;
      }
      return next;
    };
  }

  private lexNextSectionOrOption(section: string): Step | null {
    const r = this.readRuneOrEnd();
    if (r === null) return null;
    if (isGoSpace(r)) return () => this.lexNextSectionOrOption(section);
    if (r === 0x5b /* [ */) return () => this.lexSectionName();
    if (isComment(r)) return this.ignoreLine(() => this.lexNextSectionOrOption(section));
    this.buf.unreadRune();
    return () => this.lexOptionName(section);
  }

  private lexOptionName(section: string): Step {
    let partial = '';
    for (;;) {
      let r: number;
      try {
        r = this.buf.readRune();
      } catch (err) {
        // An option name cut off by the end of the file surfaces as Go's io.EOF text.
        if (err instanceof GoEOF) throw new UnitFileParseError('EOF');
        throw err;
      }
      if (r === LF || r === CR) {
        throw new UnitFileParseError('unexpected newline encountered while parsing option name');
      }
      if (r === 0x3d /* = */) break;
      partial += String.fromCodePoint(r);
    }
    const name = trimGoSpace(partial);
    return this.lexOptionValue(section, name, []);
  }

  /** Each continuation line is its own lexer step, so the line-length check runs between them. */
  private lexOptionValue(section: string, name: string, partial: Uint8Array[]): Step {
    return () => {
      const { line, eof } = this.toEOL();
      if (trimGoSpaceBytes(line).length > 0) {
        partial.push(line);
        const continues = line[line.length - 1] === BACKSLASH;
        if (continues) {
          if (!eof) partial.push(Uint8Array.of(LF));
          return this.lexOptionValue(section, name, partial);
        }
      }
      const raw = decodeUtf8(concatBytes(partial));
      // A trailing newline means the value ended on a continuation: keep exactly one.
      const value = raw.endsWith('\n') ? `${trimGoSpace(raw)}\n` : trimGoSpace(raw);
      this.options.push({ section, name, value });
      return () => this.lexNextSectionOrOption(section);
    };
  }
}
