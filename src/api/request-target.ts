import type { IncomingMessage, ServerResponse } from 'node:http';
import { cleanPath, escapeGoPath, GoUrlError, parseRequestTarget } from '../go/url.js';
import { sendError } from './respond.js';

/**
 * Makes express route on the path Go's `ServeMux` matched: the decoded path. The request URL
 * is rewritten so that each decoded segment is one encoded segment, which puts a `%2F`
 * inside a unit name where fleet had it (a separator, hence 404) and lets express decode
 * route parameters exactly once. Unclean paths get `ServeMux`'s redirect.
 *
 * Returns false when the request has been answered.
 */
export function routeOnDecodedPath(req: IncomingMessage, res: ServerResponse): boolean {
  let target: ReturnType<typeof parseRequestTarget>;
  try {
    target = parseRequestTarget(req.url ?? '');
  } catch (err) {
    if (!(err instanceof GoUrlError)) throw err;
    // Go's server refused these before any handler ran, in plain text; ours is JSON.
    sendError(res, 400, err.message);
    return false;
  }
  const query = target.rawQuery === '' ? '' : `?${target.rawQuery}`;
  const clean = cleanPath(target.path);
  if (clean !== target.path) {
    redirectPermanently(req, res, `${escapeGoPath(clean)}${query}`);
    return false;
  }
  req.url = `${target.path.split('/').map(encodeURIComponent).join('/')}${query}`;
  return true;
}

/** `http.Redirect` with 301, as `ServeMux` sent it: a small HTML body for GET only. */
function redirectPermanently(req: IncomingMessage, res: ServerResponse, location: string): void {
  res.statusCode = 301;
  res.setHeader('Location', location);
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
  }
  if (req.method !== 'GET') {
    res.end();
    return;
  }
  const body = Buffer.from(`<a href="${escapeHtml(location)}">Moved Permanently</a>.\n\n`, 'utf8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

function escapeHtml(text: string): string {
  return text.replace(/[&'<>"]/g, (c) => HTML_ESCAPES[c] ?? c);
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  "'": '&#39;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&#34;',
};
