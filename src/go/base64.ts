/**
 * Go's `base64.URLEncoding` (padded, non-strict), whose errors fleet returned verbatim for a
 * bad page token: `illegal base64 data at input byte N`, with N where Go reports it.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const PAD = 0x3d; // '='
const CR = 0x0d;
const LF = 0x0a;

const DECODE_MAP = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE_MAP[ALPHABET.charCodeAt(i)] = i;

export class GoBase64Error extends Error {
  override name = 'GoBase64Error';

  constructor(readonly offset: number) {
    super(`illegal base64 data at input byte ${offset}`);
  }
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** `URLEncoding.DecodeString`; newlines are skipped and bits after the last byte ignored. */
export function decodeBase64Url(text: string): Uint8Array {
  const src = Buffer.from(text, 'utf8');
  const out: number[] = [];
  let si = 0;
  while (si < src.length) {
    const quantum = decodeQuantum(src, si);
    out.push(...quantum.bytes);
    if (quantum.error !== null) throw new GoBase64Error(quantum.error);
    si = quantum.next;
  }
  return Uint8Array.from(out);
}

interface Quantum {
  next: number;
  bytes: number[];
  /** Offset of the corrupt byte, reported after the bytes decoded so far. */
  error: number | null;
}

/** Go's `decodeQuantum`: up to four symbols, padding, and the trailing-garbage check. */
function decodeQuantum(src: Uint8Array, start: number): Quantum {
  const symbols = [0, 0, 0, 0];
  let si = start;
  let count = 4;
  let trailingGarbage: number | null = null;
  for (let j = 0; j < 4; j++) {
    if (si === src.length) {
      if (j === 0) return { next: si, bytes: [], error: null };
      // A padded encoding must end on a whole quantum.
      return { next: si, bytes: [], error: si - j };
    }
    const byte = src[si]!;
    si++;
    const symbol = DECODE_MAP[byte]!;
    if (symbol >= 0) {
      symbols[j] = symbol;
      continue;
    }
    if (byte === LF || byte === CR) {
      j--;
      continue;
    }
    if (byte !== PAD) return { next: si, bytes: [], error: si - 1 };
    if (j < 2) return { next: si, bytes: [], error: si - 1 };
    if (j === 2) {
      while (si < src.length && (src[si] === LF || src[si] === CR)) si++;
      if (si === src.length) return { next: si, bytes: [], error: src.length };
      if (src[si] !== PAD) return { next: si, bytes: [], error: si - 1 };
      si++;
    }
    while (si < src.length && (src[si] === LF || src[si] === CR)) si++;
    if (si < src.length) trailingGarbage = si;
    count = j;
    break;
  }
  const value = (symbols[0]! << 18) | (symbols[1]! << 12) | (symbols[2]! << 6) | symbols[3]!;
  const decoded = [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
  return { next: si, bytes: decoded.slice(0, count - 1), error: trailingGarbage };
}
