/**
 * Go's text primitives, reproduced where fleet's observable output depends on them:
 * UTF-8 decoding as `unicode/utf8` does it, `unicode.IsSpace`, `strings.TrimSpace`,
 * and the `%q` / `%v` renderings that appear verbatim in fleet's error messages.
 */

export const RUNE_ERROR = 0xfffd;

interface LeadByte {
  size: number;
  lo: number;
  hi: number;
}

const CONTINUATION_LO = 0x80;
const CONTINUATION_HI = 0xbf;

/** The accept range for the second byte of a sequence, as in Go's `first` / `acceptRanges` tables. */
function leadByte(b: number): LeadByte | null {
  if (b < 0xc2 || b > 0xf4) return null;
  if (b <= 0xdf) return { size: 2, lo: 0x80, hi: 0xbf };
  if (b === 0xe0) return { size: 3, lo: 0xa0, hi: 0xbf };
  if (b === 0xed) return { size: 3, lo: 0x80, hi: 0x9f };
  if (b <= 0xef) return { size: 3, lo: 0x80, hi: 0xbf };
  if (b === 0xf0) return { size: 4, lo: 0x90, hi: 0xbf };
  if (b === 0xf4) return { size: 4, lo: 0x80, hi: 0x8f };
  return { size: 4, lo: 0x80, hi: 0xbf };
}

/** `utf8.DecodeRune`: an invalid or short sequence decodes as RUNE_ERROR of width 1. */
export function decodeRune(p: Uint8Array, start = 0, end = p.length): [rune: number, size: number] {
  const n = end - start;
  if (n < 1) return [RUNE_ERROR, 0];
  const p0 = p[start]!;
  if (p0 < 0x80) return [p0, 1];
  const lead = leadByte(p0);
  if (lead === null || n < lead.size) return [RUNE_ERROR, 1];
  const b1 = p[start + 1]!;
  if (b1 < lead.lo || b1 > lead.hi) return [RUNE_ERROR, 1];
  if (lead.size === 2) return [((p0 & 0x1f) << 6) | (b1 & 0x3f), 2];
  const b2 = p[start + 2]!;
  if (b2 < CONTINUATION_LO || b2 > CONTINUATION_HI) return [RUNE_ERROR, 1];
  if (lead.size === 3) return [((p0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f), 3];
  const b3 = p[start + 3]!;
  if (b3 < CONTINUATION_LO || b3 > CONTINUATION_HI) return [RUNE_ERROR, 1];
  return [((p0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f), 4];
}

/**
 * `utf8.FullRune`: whether the bytes begin with a complete encoding. An invalid sequence
 * counts as complete because it decodes as a width-1 error.
 */
export function fullRune(p: Uint8Array, start: number, end: number): boolean {
  const n = end - start;
  if (n === 0) return false;
  const p0 = p[start]!;
  if (p0 < 0x80) return true;
  const lead = leadByte(p0);
  if (lead === null || n >= lead.size) return true;
  if (n > 1) {
    const b1 = p[start + 1]!;
    if (b1 < lead.lo || b1 > lead.hi) return true;
  }
  if (n > 2) {
    const b2 = p[start + 2]!;
    if (b2 < CONTINUATION_LO || b2 > CONTINUATION_HI) return true;
  }
  return false;
}

/** `unicode.IsSpace`: Go's White_Space set, which differs from JavaScript's `\s` (no U+FEFF). */
export function isGoSpace(r: number): boolean {
  switch (r) {
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x20:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200a;
  }
}

/** `strings.TrimSpace` on a JavaScript string, by code point. */
export function trimGoSpace(s: string): string {
  const points = Array.from(s);
  let start = 0;
  let end = points.length;
  while (start < end && isGoSpace(points[start]!.codePointAt(0)!)) start++;
  while (end > start && isGoSpace(points[end - 1]!.codePointAt(0)!)) end--;
  return points.slice(start, end).join('');
}

/** `bytes.TrimSpace`: trims whitespace runes from both ends, leaving invalid bytes alone. */
export function trimGoSpaceBytes(p: Uint8Array): Uint8Array {
  const runeStarts: Array<[start: number, size: number, space: boolean]> = [];
  for (let i = 0; i < p.length; ) {
    const [rune, size] = decodeRune(p, i);
    runeStarts.push([i, size, isGoSpace(rune)]);
    i += size;
  }
  let first = 0;
  let last = runeStarts.length;
  while (first < last && runeStarts[first]![2]) first++;
  while (last > first && runeStarts[last - 1]![2]) last--;
  if (first === last) return p.subarray(0, 0);
  const [lastStart, lastSize] = runeStarts[last - 1]!;
  return p.subarray(runeStarts[first]![0], lastStart + lastSize);
}

/** `strings.Fields`: splits around runs of Go whitespace. */
export function goFields(s: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (const ch of s) {
    if (isGoSpace(ch.codePointAt(0)!)) {
      if (current !== '') fields.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current !== '') fields.push(current);
  return fields;
}

/** Decodes UTF-8 as Go converts invalid bytes for display: one U+FFFD per invalid byte. */
export function decodeUtf8(p: Uint8Array): string {
  let out = '';
  for (let i = 0; i < p.length; ) {
    const [rune, size] = decodeRune(p, i);
    out += String.fromCodePoint(rune);
    i += size;
  }
  return out;
}

/** `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
function isGoPrint(r: number): boolean {
  if (r === 0x20) return true;
  return /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(String.fromCodePoint(r));
}

const SIMPLE_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x07, '\\a'],
  [0x08, '\\b'],
  [0x0c, '\\f'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x09, '\\t'],
  [0x0b, '\\v'],
]);

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

function escapeRune(r: number, quote: string): string {
  const ch = String.fromCodePoint(r);
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (isGoPrint(r)) return ch;
  const simple = SIMPLE_ESCAPES.get(r);
  if (simple !== undefined) return simple;
  if (r < 0x20 || r === 0x7f) return `\\x${hex(r, 2)}`;
  if (r < 0x10000) return `\\u${hex(r, 4)}`;
  return `\\U${hex(r, 8)}`;
}

/** `%q` of a rune (`strconv.QuoteRune`). */
export function quoteRune(r: number): string {
  return `'${escapeRune(r, "'")}'`;
}

/** `%q` of a string (`strconv.Quote`), over its UTF-8 bytes so invalid bytes show as `\xNN`. */
export function quoteString(s: string | Uint8Array): string {
  const p = typeof s === 'string' ? new TextEncoder().encode(s) : s;
  let out = '"';
  for (let i = 0; i < p.length; ) {
    const [rune, size] = decodeRune(p, i);
    out += rune === RUNE_ERROR && size === 1 ? `\\x${hex(p[i]!, 2)}` : escapeRune(rune, '"');
    i += size;
  }
  return `${out}"`;
}

/** `%v` of a `[]byte`: `[103 97 114]`. */
export function formatByteSlice(p: Uint8Array): string {
  return `[${Array.from(p).join(' ')}]`;
}
