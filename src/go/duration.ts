/**
 * A port of Go's `time.ParseDuration`, which fleet uses for `agent_ttl`. Arithmetic is done
 * in BigInt nanoseconds so that overflow is detected exactly where Go detects it (uint64
 * accumulation, int64 result), and errors carry Go's text so operators see what fleet showed.
 */

import { Buffer } from 'node:buffer';

const NANOS_PER_UNIT: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // MICRO SIGN
  ['\u03bcs', 1_000n], // GREEK SMALL LETTER MU
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const NANOS_PER_MILLI = 1_000_000;
const TWO_POW_63 = 1n << 63n;
const MAX_INT64 = TWO_POW_63 - 1n;

/** Parses a Go duration string such as `30s`, `1h30m` or `-1.5h` into milliseconds. */
export function parseGoDuration(s: string): number {
  const invalid = () => new Error(`time: invalid duration ${goQuote(s)}`);
  let rest = s;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  // A bare zero is the only number Go accepts without a unit.
  if (rest === '0') return 0;
  if (rest === '') throw invalid();

  let total = 0n;
  while (rest !== '') {
    if (!isDigitOrDot(rest[0]!)) throw invalid();

    const whole = leadingInt(rest);
    if (whole === null) throw invalid();
    const sawWhole = whole.rest.length !== rest.length;
    rest = whole.rest;

    let fraction = { value: 0n, scale: 1, rest };
    let sawFraction = false;
    if (rest.startsWith('.')) {
      const afterDot = rest.slice(1);
      fraction = leadingFraction(afterDot);
      sawFraction = fraction.rest.length !== afterDot.length;
      rest = fraction.rest;
    }
    if (!sawWhole && !sawFraction) throw invalid();

    let unitEnd = 0;
    while (unitEnd < rest.length && !isDigitOrDot(rest[unitEnd]!)) unitEnd++;
    if (unitEnd === 0) throw new Error(`time: missing unit in duration ${goQuote(s)}`);
    const unitName = rest.slice(0, unitEnd);
    rest = rest.slice(unitEnd);
    const unit = NANOS_PER_UNIT.get(unitName);
    if (unit === undefined) {
      throw new Error(`time: unknown unit ${goQuote(unitName)} in duration ${goQuote(s)}`);
    }

    if (whole.value > TWO_POW_63 / unit) throw invalid();
    let value = whole.value * unit;
    if (fraction.value > 0n) {
      // Go computes the fractional part in float64, so a fraction of an hour can be off by a
      // few nanoseconds; doing the same keeps results identical.
      const fractionNanos = Number(fraction.value) * (Number(unit) / fraction.scale);
      value += BigInt(Math.trunc(fractionNanos));
      if (value > TWO_POW_63) throw invalid();
    }
    total += value;
    if (total > TWO_POW_63) throw invalid();
  }

  if (negative) return -Number(total) / NANOS_PER_MILLI;
  if (total > MAX_INT64) throw invalid();
  return Number(total) / NANOS_PER_MILLI;
}

function isDigitOrDot(c: string): boolean {
  return c === '.' || (c >= '0' && c <= '9');
}

/** Consumes leading decimal digits; null when they overflow what Go's uint64 allows. */
function leadingInt(s: string): { value: bigint; rest: string } | null {
  let value = 0n;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (c < '0' || c > '9') break;
    if (value > TWO_POW_63 / 10n) return null;
    value = value * 10n + BigInt(c.charCodeAt(0) - 48);
    if (value > TWO_POW_63) return null;
  }
  return { value, rest: s.slice(i) };
}

/** Consumes leading fraction digits, silently dropping precision past what fits, as Go does. */
function leadingFraction(s: string): { value: bigint; scale: number; rest: string } {
  let value = 0n;
  let scale = 1;
  let overflowed = false;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (c < '0' || c > '9') break;
    if (overflowed) continue;
    if (value > MAX_INT64 / 10n) {
      overflowed = true;
      continue;
    }
    const next = value * 10n + BigInt(c.charCodeAt(0) - 48);
    if (next > TWO_POW_63) {
      overflowed = true;
      continue;
    }
    value = next;
    scale *= 10;
  }
  return { value, scale, rest: s.slice(i) };
}

/**
 * The `quote` of Go's time package: ASCII printable characters as they are (with `"` and `\`
 * escaped), every byte of anything else as `\xNN` of its UTF-8 encoding.
 */
function goQuote(s: string): string {
  let out = '"';
  for (const char of s) {
    const code = char.codePointAt(0)!;
    if (code >= 0x80 || code < 0x20) {
      for (const byte of Buffer.from(char, 'utf8')) {
        out += `\\x${byte.toString(16).padStart(2, '0')}`;
      }
    } else {
      out += char === '"' || char === '\\' ? `\\${char}` : char;
    }
  }
  return `${out}"`;
}
