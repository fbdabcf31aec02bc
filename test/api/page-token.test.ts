import { describe, expect, it } from 'vitest';
import {
  encodePageToken,
  extractPage,
  PageTokenError,
  pageTokenFromQuery,
} from '../../src/api/page-token.js';
import { decodeBase64Url } from '../../src/go/base64.js';

function tokenError(values: string[], limit = 100): string {
  try {
    pageTokenFromQuery(values, limit);
  } catch (err) {
    if (err instanceof PageTokenError) return err.message;
    throw err;
  }
  throw new Error(`${JSON.stringify(values)} was accepted`);
}

describe('page tokens', () => {
  it("encodes limit and page as fleet's documented examples", () => {
    expect(encodePageToken({ limit: 100, page: 1 })).toBe('ZAABAA==');
    expect(encodePageToken({ limit: 100, page: 2 })).toBe('ZAACAA==');
    expect(encodePageToken({ limit: 100, page: 3 })).toBe('ZAADAA==');
  });

  it('starts at page 1 without a token', () => {
    expect(pageTokenFromQuery([], 100)).toEqual({ limit: 100, page: 1 });
  });

  it('accepts extra bytes after the first four, as binary.Read ignored them', () => {
    expect(pageTokenFromQuery(['ZAABAAAA'], 100)).toEqual({ limit: 100, page: 1 });
  });

  it.each([
    [['ZAABAA==', 'ZAABAA=='], 'too many values for page token'],
    [['ZAA'], 'illegal base64 data at input byte 0'],
    [['!!!!'], 'illegal base64 data at input byte 0'],
    [['ZAAB!A=='], 'illegal base64 data at input byte 4'],
    [['ZAABAA=x'], 'illegal base64 data at input byte 6'],
    [['ZAABAA==ZA'], 'illegal base64 data at input byte 8'],
    [['ZA=A'], 'illegal base64 data at input byte 2'],
    [[''], 'EOF'],
    [['ZAA='], 'unexpected EOF'],
    [['EwBMLg=='], 'token limit must be 100'],
    [['AgABAA=='], 'token limit must be 100'],
    [['ZAAAAA=='], 'token page must be greater than zero'],
  ])('refuses %j with %j', (values, message) => {
    expect(tokenError(values)).toBe(message);
  });

  it('checks the limit against the configured page size', () => {
    expect(pageTokenFromQuery(['AgABAA=='], 2)).toEqual({ limit: 2, page: 1 });
    expect(tokenError(['ZAABAA=='], 2)).toBe('token limit must be 2');
  });

  it('skips newlines inside base64, as Go does', () => {
    expect([...decodeBase64Url('ZAAB\nAA==\r\n')]).toEqual([100, 0, 1, 0]);
  });
});

describe('pages', () => {
  const items = (n: number) => Array.from({ length: n }, (_, i) => i);

  it('offers a next page whenever a page is full, even when nothing follows', () => {
    expect(extractPage(items(100), { limit: 100, page: 1 }).nextPageToken).toBe('ZAACAA==');
    expect(extractPage(items(100), { limit: 100, page: 2 })).toEqual({
      items: [],
      nextPageToken: undefined,
    });
  });

  it('gives the last partial page without a token', () => {
    expect(extractPage(items(101), { limit: 100, page: 2 })).toEqual({
      items: [100],
      nextPageToken: undefined,
    });
    expect(extractPage(items(99), { limit: 100, page: 1 }).nextPageToken).toBeUndefined();
  });

  it('never offers a page past 65535, which a token cannot hold', () => {
    expect(extractPage(items(3), { limit: 1, page: 3 }).nextPageToken).toBe(
      encodePageToken({ limit: 1, page: 4 }),
    );
    const many = { length: 70_000 } as unknown as number[];
    expect(extractPage(Array.from(many), { limit: 1, page: 65_535 }).nextPageToken).toBeUndefined();
  });
});
