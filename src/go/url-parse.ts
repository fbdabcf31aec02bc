import { quoteString } from './text.js';
import { GoUrlError, goUnescape } from './url.js';

/**
 * Go's `url.Parse`, as far as fleetctl's `--endpoint` depends on it: scheme, authority and
 * path, and the parse errors fleetctl prints verbatim (`parse "127.0.0.1:1": first path
 * segment in URL cannot contain colon`).
 */
export interface GoUrl {
  /** Lower-cased; empty when the text has none. */
  scheme: string;
  /** Set for `scheme:rest` without a slash after the colon (`localhost:8080`). */
  opaque: string;
  userinfo: string;
  host: string;
  /** Decoded. */
  path: string;
}

export function parseGoUrl(raw: string): GoUrl {
  const [withoutFragment = ''] = raw.split('#', 1);
  try {
    return parse(withoutFragment);
  } catch (err) {
    if (!(err instanceof GoUrlError)) throw err;
    throw new GoUrlError(`parse ${quoteString(withoutFragment)}: ${err.message}`);
  }
}

function parse(raw: string): GoUrl {
  if (/[\u0000-\u001f\u007f]/.test(raw)) {
    throw new GoUrlError('net/url: invalid control character in URL');
  }
  const url: GoUrl = { scheme: '', opaque: '', userinfo: '', host: '', path: '' };
  const [scheme, afterScheme] = splitScheme(raw);
  url.scheme = scheme.toLowerCase();
  let rest = afterScheme;
  const question = rest.indexOf('?');
  if (question >= 0) rest = rest.slice(0, question);

  if (!rest.startsWith('/')) {
    if (url.scheme !== '') {
      url.opaque = rest;
      return url;
    }
    // Go's guard against malformed schemes such as `cache_object:foo/bar`.
    if ((rest.split('/', 1)[0] ?? '').includes(':')) {
      throw new GoUrlError('first path segment in URL cannot contain colon');
    }
  }
  if ((url.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    const authorityEnd = rest.indexOf('/', 2);
    const authority = authorityEnd < 0 ? rest.slice(2) : rest.slice(2, authorityEnd);
    rest = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
    const at = authority.lastIndexOf('@');
    url.userinfo = at < 0 ? '' : authority.slice(0, at);
    url.host = parseHost(at < 0 ? authority : authority.slice(at + 1));
  }
  url.path = goUnescape(rest, 'path');
  return url;
}

/** Go's `getScheme`: letters, then digits, `+`, `-` or `.`, up to the first colon. */
function splitScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) return ['', raw];
      continue;
    }
    if (c === ':') {
      if (i === 0) throw new GoUrlError('missing protocol scheme');
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ['', raw];
  }
  return ['', raw];
}

function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw new GoUrlError("missing ']' in host");
    checkPort(host.slice(close + 1));
    return host;
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0) checkPort(host.slice(colon));
  return host;
}

function checkPort(port: string): void {
  if (port !== '' && !/^:[0-9]*$/.test(port)) {
    throw new GoUrlError(`invalid port ${quoteString(port)} after host`);
  }
}
