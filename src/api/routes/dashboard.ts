import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendError } from '../respond.js';

/** Where `npm run build` writes the dashboard's bundled assets: dist/ui, beside dist/api. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

export const DASHBOARD_PREFIX = '/ui/';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The page may talk to this fleetd only: no script, style, font or connection elsewhere, and
 * no framing by another site.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

interface Asset {
  body: Buffer;
  contentType: string;
}

/** Whether a request path is one of the dashboard's (the assets carry no cluster data). */
export function isDashboardPath(path: string): boolean {
  return path === '/ui' || path.startsWith(DASHBOARD_PREFIX);
}

/**
 * Serves the dashboard's files, read once from `dir`: `/ui/` is its index.html, `/ui/<file>`
 * one of its files, `/ui` redirects to `/ui/`. Nothing outside `dir`'s own files is served;
 * without a built dashboard every path is fleet's 404.
 */
export function dashboardAssets(dir: string = DASHBOARD_DIR) {
  const assets = loadAssets(dir);
  return (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 405, 'only GET supported against this resource');
      return;
    }
    if (path === '/ui' && assets.size > 0) {
      res.statusCode = 301;
      res.setHeader('Location', DASHBOARD_PREFIX);
      res.end();
      return;
    }
    const name = path === DASHBOARD_PREFIX ? 'index.html' : path.slice(DASHBOARD_PREFIX.length);
    const asset = assets.get(name);
    if (asset === undefined) {
      sendError(res, 404);
      return;
    }
    res.statusCode = 200;
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(header, value);
    res.setHeader('Content-Type', asset.contentType);
    res.setHeader('Content-Length', asset.body.length);
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return assets;
  }
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType === undefined) continue;
    assets.set(name, { body: readFileSync(join(dir, name)), contentType });
  }
  return assets;
}
