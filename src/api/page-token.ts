import { errorMessage } from '../error-message.js';
import { decodeBase64Url, encodeBase64Url } from '../go/base64.js';

/**
 * fleet's page token: URL-safe base64 (padded) of two little-endian uint16s, the page size
 * and the 1-based page number. Clients treat it as opaque but scripts have hard-coded
 * tokens such as `ZAACAA==` (limit 100, page 2), so the format is kept exactly.
 */
export interface PageToken {
  limit: number;
  page: number;
}

const UINT16_MAX = 0xffff;

export class PageTokenError extends Error {
  override name = 'PageTokenError';
}

export function encodePageToken(token: PageToken): string {
  const bytes = new Uint8Array(4);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, token.limit, true);
  view.setUint16(2, token.page, true);
  return encodeBase64Url(bytes);
}

/**
 * The token of a list request: page 1 without one; errors carry fleet's messages (Go's own
 * for base64 and short input). Bytes past the first four are ignored, as Go's
 * `binary.Read` ignored them.
 */
export function pageTokenFromQuery(values: readonly string[], tokenLimit: number): PageToken {
  if (values.length > 1) throw new PageTokenError('too many values for page token');
  const [text] = values;
  if (text === undefined) return { limit: tokenLimit, page: 1 };

  let bytes: Uint8Array;
  try {
    bytes = decodeBase64Url(text);
  } catch (err) {
    throw new PageTokenError(errorMessage(err));
  }
  if (bytes.length === 0) throw new PageTokenError('EOF');
  if (bytes.length < 4) throw new PageTokenError('unexpected EOF');
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  const token = { limit: view.getUint16(0, true), page: view.getUint16(2, true) };
  if (token.limit !== tokenLimit) throw new PageTokenError(`token limit must be ${tokenLimit}`);
  if (token.page === 0) throw new PageTokenError('token page must be greater than zero');
  return token;
}

export interface Page<T> {
  items: T[];
  /** Present whenever the page was full, even if nothing follows (fleet's behaviour). */
  nextPageToken: string | undefined;
}

/** The token's slice of `all`. */
export function extractPage<T>(all: readonly T[], token: PageToken): Page<T> {
  const start = (token.page - 1) * token.limit;
  const stop = token.page * token.limit;
  if (start >= all.length) return { items: [], nextPageToken: undefined };
  const full = stop <= all.length;
  // A uint16 page number cannot go past 65535; fleet wrapped to page 0 there.
  const next =
    full && token.page < UINT16_MAX
      ? encodePageToken({ limit: token.limit, page: token.page + 1 })
      : undefined;
  return { items: all.slice(start, Math.min(stop, all.length)), nextPageToken: next };
}
