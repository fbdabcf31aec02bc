import { decodeUtf8, quoteString } from './text.js';

/**
 * The parts of Go's `net/url` and `ServeMux` that decide which fleet handler saw a request:
 * the path is percent-decoded before matching (so `%2F` is a separator), queries are parsed
 * leniently (malformed pairs dropped), and unclean paths are redirected.
 */

export class GoUrlError extends Error {
  override name = 'GoUrlError';
}

const isHex = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/**
 * Go's `unescape`: `%XX` becomes the byte; in query mode `+` becomes a space. Throws
 * `invalid URL escape "%zz"` on a malformed escape.
 */
export function goUnescape(s: string, mode: 'path' | 'query'): string {
  if (!s.includes('%') && (mode === 'path' || !s.includes('+'))) return s;
  const bytes = Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; ) {
    const c = bytes[i]!;
    if (c === 0x25) {
      if (i + 2 >= bytes.length || !isHex(bytes[i + 1]!) || !isHex(bytes[i + 2]!)) {
        const bad = bytes.subarray(i, Math.min(i + 3, bytes.length));
        throw new GoUrlError(`invalid URL escape ${quoteString(bad)}`);
      }
      out.push(Number.parseInt(String.fromCharCode(bytes[i + 1]!, bytes[i + 2]!), 16));
      i += 3;
    } else {
      out.push(mode === 'query' && c === 0x2b ? 0x20 : c);
      i++;
    }
  }
  return decodeUtf8(Uint8Array.from(out));
}

export interface RequestTarget {
  /** Decoded, as `r.URL.Path`. */
  path: string;
  /** Undecoded text after the first `?`, as `r.URL.RawQuery`. */
  rawQuery: string;
}

/** Splits an origin-form (or absolute-form) request target the way Go's server does. */
export function parseRequestTarget(target: string): RequestTarget {
  let rest = target;
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(rest);
  if (absolute !== null) rest = rest.slice(absolute[0].length) || '/';
  if (!rest.startsWith('/')) throw new GoUrlError(`invalid request URI ${quoteString(target)}`);
  const question = rest.indexOf('?');
  const rawPath = question < 0 ? rest : rest.slice(0, question);
  const rawQuery = question < 0 ? '' : rest.slice(question + 1);
  return { path: goUnescape(rawPath, 'path'), rawQuery };
}

/** `url.ParseQuery` as `r.URL.Query()` uses it: values in order, bad pairs silently dropped. */
export function parseGoQuery(rawQuery: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const equals = pair.indexOf('=');
    const rawKey = equals < 0 ? pair : pair.slice(0, equals);
    const rawValue = equals < 0 ? '' : pair.slice(equals + 1);
    try {
      const key = goUnescape(rawKey, 'query');
      const value = goUnescape(rawValue, 'query');
      values.set(key, [...(values.get(key) ?? []), value]);
    } catch {
      // Go's url.Values keeps the other pairs and drops this one.
    }
  }
  return values;
}

/** `ServeMux`'s `cleanPath`: `path.Clean`, keeping a trailing slash. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const rooted = p.startsWith('/') ? p : `/${p}`;
  const segments: string[] = [];
  for (const segment of rooted.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const cleaned = `/${segments.join('/')}`;
  return rooted.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

/** `url.URL.EscapedPath` for a path without a raw form: what Go writes into `Location`. */
export function escapeGoPath(path: string): string {
  return Array.from(Buffer.from(path, 'utf8'))
    .map((byte) => {
      const c = String.fromCharCode(byte);
      return /[A-Za-z0-9\-_.~$&+,/:;=@]/.test(c) && byte < 0x80
        ? c
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}
