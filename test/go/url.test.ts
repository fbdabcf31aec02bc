import { describe, expect, it } from 'vitest';
import { cleanPath, escapeGoPath, parseGoQuery, parseRequestTarget } from '../../src/go/url.js';

describe('request targets as Go read them', () => {
  it('decodes the path, %2F included, and keeps the query raw', () => {
    expect(parseRequestTarget('/fleet/v1/units/a%2Fb%40c.service?x=%41')).toEqual({
      path: '/fleet/v1/units/a/b@c.service',
      rawQuery: 'x=%41',
    });
  });

  it('keeps + in a path, which only queries turn into a space', () => {
    expect(parseRequestTarget('/a+b').path).toBe('/a+b');
  });

  it.each([
    ['/a%zz', 'invalid URL escape "%zz"'],
    ['/a%4', 'invalid URL escape "%4"'],
    ['/a%', 'invalid URL escape "%"'],
  ])('refuses %j with %j', (target, message) => {
    expect(() => parseRequestTarget(target)).toThrow(message);
  });

  it('takes the path of an absolute-form target', () => {
    expect(parseRequestTarget('http://host:1/fleet/v1/units?a=b')).toEqual({
      path: '/fleet/v1/units',
      rawQuery: 'a=b',
    });
  });
});

describe("ServeMux's cleanPath", () => {
  it.each([
    ['/fleet/v1/units', '/fleet/v1/units'],
    ['//fleet/v1/units', '/fleet/v1/units'],
    ['/fleet/v1/units/../machines', '/fleet/v1/machines'],
    ['/fleet/v1/units/', '/fleet/v1/units/'],
    ['/fleet/v1/./units/', '/fleet/v1/units/'],
    ['/..', '/'],
    ['/a/..', '/'],
    ['', '/'],
  ])('cleans %j to %j', (path, clean) => {
    expect(cleanPath(path)).toBe(clean);
  });

  it('escapes a path for Location as url.URL.EscapedPath does', () => {
    expect(escapeGoPath('/a b/c@d:e/ü%')).toBe('/a%20b/c@d:e/%C3%BC%25');
  });
});

describe('url.ParseQuery as r.URL.Query() used it', () => {
  it('keeps values in order, decodes + and escapes, and drops malformed pairs', () => {
    const query = parseGoQuery('a=1&a=2&b=x+y%21&bad=%zz&semi=1;2&&c&=e');
    expect(Object.fromEntries(query)).toEqual({ a: ['1', '2'], b: ['x y!'], c: [''], '': ['e'] });
  });
});
