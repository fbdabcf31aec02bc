/**
 * Go's `json.Marshal` output for the API's entities: compact, struct members in the order
 * given, map keys sorted bytewise, and Go's escaping (`&`, `<`, `>`, U+2028 and U+2029 as
 * `\uXXXX`; control characters other than `\n \r \t` as `\u00XX`; invalid UTF-16 as U+FFFD).
 * Clients compare bodies as text, so these details are part of the API.
 */

/** A Go map: its keys are emitted sorted, whatever order the record was built in. */
export class GoMap {
  constructor(readonly entries: ReadonlyMap<string, GoJsonValue> | Record<string, GoJsonValue>) {}
}

/** Strings, numbers, booleans, null, GoMaps, arrays and plain objects of these. */
export type GoJsonValue = string | number | boolean | null | undefined | GoMap | object;

/** Encodes a value; object members that are `undefined` are left out (Go's `omitempty`). */
export function goJsonEncode(value: GoJsonValue): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return encodeString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof GoMap) return encodeMap(value);
  if (Array.isArray(value))
    return `[${value.map((item: GoJsonValue) => goJsonEncode(item)).join(',')}]`;
  const members = Object.entries(value as Record<string, GoJsonValue>)
    .filter(([, member]) => member !== undefined)
    .map(([key, member]) => `${encodeString(key)}:${goJsonEncode(member)}`);
  return `{${members.join(',')}}`;
}

function encodeMap(map: GoMap): string {
  const entries = map.entries instanceof Map ? [...map.entries] : Object.entries(map.entries);
  const sorted = entries
    .map(([key, member]) => ({ key, bytes: Buffer.from(key, 'utf8'), member }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  return `{${sorted.map(({ key, member }) => `${encodeString(key)}:${goJsonEncode(member)}`).join(',')}}`;
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

// Control characters, the HTML-sensitive trio, the JavaScript line terminators, and lone
// surrogates (which Go could never hold: its strings are UTF-8, so they arrive as U+FFFD).
const NEEDS_ESCAPE =
  /["\\\u0000-\u001f<>&\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function encodeString(s: string): string {
  const escaped = s.replace(NEEDS_ESCAPE, (c) => {
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) return short;
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) return '\ufffd';
    return `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return `"${escaped}"`;
}
