import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchGlob } from '../../src/go/path-match.js';

// Go's src/path/match_test.go; every ErrBadPattern row is expected to be a non-match.
const goMatchTests: [pattern: string, name: string, matched: boolean][] = [
  ['abc', 'abc', true],
  ['*', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'abc', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[^b-d]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'ab', false],
  ['a?b', 'a☺b', true],
  ['a[^a]b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['a[^a][^a][^a]b', 'a☺b', false],
  ['[a-ζ]*', 'α', true],
  ['*[a-ζ]', 'A', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['[x\\-]', 'x', true],
  ['[x\\-]', '-', true],
  ['[x\\-]', 'z', false],
  ['[\\-x]', 'x', true],
  ['[\\-x]', '-', true],
  ['[\\-x]', 'a', false],
  ['[]a]', ']', false],
  ['[-]', '-', false],
  ['[x-]', 'x', false],
  ['[x-]', '-', false],
  ['[x-]', 'z', false],
  ['[-x]', 'x', false],
  ['[-x]', '-', false],
  ['[-x]', 'a', false],
  ['\\', 'a', false],
  ['[a-b-c]', 'a', false],
  ['[', 'a', false],
  ['[^', 'a', false],
  ['[^bc', 'a', false],
  ['a[', 'a', false],
  ['a[', 'ab', false],
  ['a[', 'x', false],
  ['a/b[', 'x', false],
  ['*x', 'xxx', true],
];

describe('matchGlob', () => {
  it.each(goMatchTests)('agrees with Go path.Match: %j against %j', (pattern, name, matched) => {
    expect(matchGlob(pattern, name)).toBe(matched);
  });

  it.each([
    ['', '', true],
    ['', 'a', false],
    ['*', '', true],
    ['**', 'abc', true],
    ['*', 'a/b', false],
    ['*/*', 'a/b', true],
    ['?', '', false],
    ['a\\', 'a', false],
    ['a\\', 'ab', false],
    ['*\\', 'abc', false],
    ['[*]', '*', true],
    ['[\\]-a]', '^', true],
    ['[z-a]', 'm', false],
    ['[^z-a]', 'm', true],
    ['[/]', '/', true],
    ['[^a]', '/', true],
    ['[!a]', '!', true],
    ['{a,b}', 'a', false],
    ['a]', 'a]', true],
    ['a-^', 'a-^', true],
  ] as const)('edge case %j against %j matches: %s', (pattern, name, matched) => {
    expect(matchGlob(pattern, name)).toBe(matched);
  });

  it.each([
    ['a[', 'b'],
    ['[]', ''],
    ['*[', 'abc'],
    ['a*[', 'a'],
    ['x*\\', 'x'],
  ] as const)('treats malformed %j as never matching %j', (pattern, name) => {
    expect(matchGlob(pattern, name)).toBe(false);
  });

  it('matches fleet unit-name globs', () => {
    expect(matchGlob('app@*.service', 'app@1.service')).toBe(true);
    expect(matchGlob('app@*.service', 'app@.service')).toBe(true);
    expect(matchGlob('app@*.service', 'web@1.service')).toBe(false);
    expect(matchGlob('conflict.*.service', 'conflict.multiple.2.service')).toBe(true);
    expect(matchGlob('replace.[0-2].service', 'replace.1.service')).toBe(true);
    expect(matchGlob('replace.[0-2].service', 'replace.3.service')).toBe(false);
  });

  it('consumes a whole character for ? and classes', () => {
    expect(matchGlob('?', '€')).toBe(true);
    expect(matchGlob('???', '€')).toBe(false);
    expect(matchGlob('[€]', '€')).toBe(true);
    expect(matchGlob('[^€]', '€')).toBe(false);
    expect(matchGlob('[😀-😂]', '😁')).toBe(true);
    expect(matchGlob('a?b', 'a😀b')).toBe(true);
  });

  it('lets * resume mid-character as Go does, where the leftover bytes are error runes', () => {
    // From the second byte of the three-byte `€` two bytes remain, each a rune of its own.
    expect(matchGlob('*??', '€')).toBe(true);
    expect(matchGlob('*[^a][^a]', '€')).toBe(true);
    expect(matchGlob('*\uFFFD', 'é')).toBe(false);
    expect(matchGlob('*[\uFFFD]', 'é')).toBe(true);
  });

  it('never throws, whatever the pattern and name', () => {
    const globChar = fc.constantFrom(
      '*',
      '?',
      '[',
      ']',
      '^',
      '-',
      '\\',
      '/',
      'a',
      'b',
      'é',
      '€',
      '😀',
    );
    const text = fc.oneof(
      fc.string({ unit: globChar, maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
    );
    fc.assert(
      fc.property(text, text, (pattern, name) => {
        expect(typeof matchGlob(pattern, name)).toBe('boolean');
      }),
    );
  });

  it('agrees with an independent backtracking matcher on ASCII input', () => {
    const pattern = fc.string({
      unit: fc.constantFrom('*', '?', '[', ']', '^', '-', '\\', '/', 'a', 'b', 'c'),
      maxLength: 8,
    });
    const name = fc.string({ unit: fc.constantFrom('/', 'a', 'b', 'c', '-', ']'), maxLength: 8 });
    fc.assert(
      fc.property(pattern, name, (p, n) => {
        const tokens = parseGlob(p);
        expect(matchGlob(p, n)).toBe(tokens !== null && backtrack(tokens, n, 0, 0));
      }),
      { numRuns: 5000 },
    );
  });
});

type GlobToken =
  | { kind: 'star' }
  | { kind: 'any' }
  | { kind: 'literal'; char: string }
  | { kind: 'class'; negated: boolean; ranges: [string, string][] };

/** A reference reading of path.Match's grammar for ASCII patterns; `null` when malformed. */
function parseGlob(pattern: string): GlobToken[] | null {
  const tokens: GlobToken[] = [];
  let i = 0;
  const classChar = (): string | null => {
    let c = pattern[i];
    if (c === undefined || c === '-' || c === ']') return null;
    if (c === '\\') {
      i++;
      c = pattern[i];
      if (c === undefined) return null;
    }
    i++;
    return i < pattern.length ? c : null;
  };
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '*') {
      tokens.push({ kind: 'star' });
      i++;
    } else if (c === '?') {
      tokens.push({ kind: 'any' });
      i++;
    } else if (c === '\\') {
      if (i + 1 >= pattern.length) return null;
      tokens.push({ kind: 'literal', char: pattern[i + 1]! });
      i += 2;
    } else if (c === '[') {
      i++;
      const negated = pattern[i] === '^';
      if (negated) i++;
      const ranges: [string, string][] = [];
      for (;;) {
        if (pattern[i] === ']' && ranges.length > 0) {
          i++;
          break;
        }
        const lo = classChar();
        if (lo === null) return null;
        let hi = lo;
        if (pattern[i] === '-') {
          i++;
          const upper = classChar();
          if (upper === null) return null;
          hi = upper;
        }
        ranges.push([lo, hi]);
      }
      tokens.push({ kind: 'class', negated, ranges });
    } else {
      tokens.push({ kind: 'literal', char: c });
      i++;
    }
  }
  return tokens;
}

function backtrack(tokens: readonly GlobToken[], name: string, t: number, n: number): boolean {
  const token = tokens[t];
  if (token === undefined) return n === name.length;
  if (token.kind === 'star') {
    for (let end = n; end <= name.length; end++) {
      if (backtrack(tokens, name, t + 1, end)) return true;
      if (name[end] === '/') return false;
    }
    return false;
  }
  const c = name[n];
  if (c === undefined) return false;
  const ok =
    token.kind === 'any'
      ? c !== '/'
      : token.kind === 'literal'
        ? c === token.char
        : token.ranges.some(([lo, hi]) => lo <= c && c <= hi) !== token.negated;
  return ok && backtrack(tokens, name, t + 1, n + 1);
}
