/**
 * Go's `path.Match`, the glob fleet uses for `Conflicts` and `Replaces`.
 *
 * It is ported over UTF-8 bytes, as Go runs it: `?` and classes consume a whole rune, literals
 * compare byte by byte, and `*` retries the rest of the pattern one byte further on. The last
 * point is observable: from the middle of a multi-byte character every byte left of it decodes
 * as its own error rune, so `*??` matches `€` (three bytes) in Go and therefore here too.
 *
 * A malformed pattern (Go's `ErrBadPattern`) never matches. No separate validity pass is
 * needed for that: a chunk only matches once it has been read to its end, so a pattern that
 * reports a match has been fully parsed, and fleet discards the error anyway.
 */

import { decodeRune, RUNE_ERROR } from './text.js';

const SLASH = 0x2f;
const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN_CLASS = 0x5b;
const CLOSE_CLASS = 0x5d;
const ESCAPE = 0x5c;
const NEGATE = 0x5e;
const RANGE = 0x2d;

/** `matchChunk` outcomes that are not an index into the name. */
const NO_MATCH = -1;
const BAD_PATTERN = -2;

const META = /[*?[\\]/;
const encoder = new TextEncoder();

// The engine matches the same few patterns against the same unit names over and over (each
// unit placed on each candidate machine, every pass), so their UTF-8 forms are kept.
const UTF8_CACHE_LIMIT = 65_536;
const utf8Cache = new Map<string, Uint8Array>();

function utf8(s: string): Uint8Array {
  let bytes = utf8Cache.get(s);
  if (bytes === undefined) {
    if (utf8Cache.size >= UTF8_CACHE_LIMIT) utf8Cache.clear();
    bytes = encoder.encode(s);
    utf8Cache.set(s, bytes);
  }
  return bytes;
}

export function matchGlob(pattern: string, name: string): boolean {
  // Most Conflicts/Replaces values are plain unit names; they need no glob machinery at all.
  if (!META.test(pattern)) return pattern === name;
  return match(utf8(pattern), utf8(name));
}

function match(pattern: Uint8Array, name: Uint8Array): boolean {
  let p = 0;
  let n = 0;
  chunks: while (p < pattern.length) {
    let star = false;
    while (p < pattern.length && pattern[p] === STAR) {
      star = true;
      p++;
    }
    const chunkStart = p;
    const chunkEnd = scanChunk(pattern, p);
    p = chunkEnd;
    const isLastChunk = chunkEnd === pattern.length;

    if (star && chunkStart === chunkEnd) {
      // A trailing `*` takes the rest of the name unless it crosses a `/`.
      return name.indexOf(SLASH, n) < 0;
    }

    const here = matchChunk(pattern, chunkStart, chunkEnd, name, n);
    // The last chunk must use up the name; otherwise a later start may still succeed.
    if (here >= 0 && (here === name.length || !isLastChunk)) {
      n = here;
      continue;
    }
    if (here === BAD_PATTERN) return false;

    if (star) {
      for (let skip = n; skip < name.length && name[skip] !== SLASH; skip++) {
        const rest = matchChunk(pattern, chunkStart, chunkEnd, name, skip + 1);
        if (rest >= 0) {
          if (isLastChunk && rest < name.length) continue;
          n = rest;
          continue chunks;
        }
        if (rest === BAD_PATTERN) return false;
      }
    }
    return false;
  }
  return n === name.length;
}

/** The end of the chunk starting at `start`: the next `*` outside a class, or the pattern's end. */
function scanChunk(pattern: Uint8Array, start: number): number {
  let inClass = false;
  let i = start;
  for (; i < pattern.length; i++) {
    switch (pattern[i]) {
      case ESCAPE:
        // A trailing `\` stays in the chunk, where matchChunk rejects it.
        if (i + 1 < pattern.length) i++;
        break;
      case OPEN_CLASS:
        inClass = true;
        break;
      case CLOSE_CLASS:
        inClass = false;
        break;
      case STAR:
        if (!inClass) return i;
        break;
    }
  }
  return i;
}

/**
 * Matches `pattern[start, end)` against the name from `n`; returns the index just past the
 * matched part of the name, NO_MATCH, or BAD_PATTERN.
 */
function matchChunk(
  pattern: Uint8Array,
  start: number,
  end: number,
  name: Uint8Array,
  n: number,
): number {
  let p = start;
  while (p < end) {
    if (n >= name.length) return NO_MATCH;
    switch (pattern[p]) {
      case OPEN_CLASS: {
        const [rune, size] = decodeRune(name, n);
        n += size;
        p++;
        let negated = false;
        if (p < end && pattern[p] === NEGATE) {
          negated = true;
          p++;
        }
        let matched = false;
        let ranges = 0;
        for (;;) {
          if (p < end && pattern[p] === CLOSE_CLASS && ranges > 0) {
            p++;
            break;
          }
          const lo = classRune(pattern, p, end);
          if (lo === null) return BAD_PATTERN;
          p = lo.next;
          let hi = lo.rune;
          if (pattern[p] === RANGE) {
            const upper = classRune(pattern, p + 1, end);
            if (upper === null) return BAD_PATTERN;
            hi = upper.rune;
            p = upper.next;
          }
          if (lo.rune <= rune && rune <= hi) matched = true;
          ranges++;
        }
        if (matched === negated) return NO_MATCH;
        break;
      }
      case QUESTION: {
        if (name[n] === SLASH) return NO_MATCH;
        n += decodeRune(name, n)[1];
        p++;
        break;
      }
      case ESCAPE:
        p++;
        if (p >= end) return BAD_PATTERN;
        if (pattern[p] !== name[n]) return NO_MATCH;
        n++;
        p++;
        break;
      default:
        if (pattern[p] !== name[n]) return NO_MATCH;
        n++;
        p++;
    }
  }
  return n;
}

/**
 * Go's `getEsc`: one possibly escaped rune of a class. `null` where Go reports a bad pattern:
 * an unescaped `-` or `]` here, a dangling `\`, or a class that is never closed.
 */
function classRune(
  pattern: Uint8Array,
  start: number,
  end: number,
): { rune: number; next: number } | null {
  let p = start;
  if (p >= end || pattern[p] === RANGE || pattern[p] === CLOSE_CLASS) return null;
  if (pattern[p] === ESCAPE) {
    p++;
    if (p >= end) return null;
  }
  const [rune, size] = decodeRune(pattern, p, end);
  if (rune === RUNE_ERROR && size === 1) return null;
  const next = p + size;
  if (next >= end) return null;
  return { rune, next };
}
