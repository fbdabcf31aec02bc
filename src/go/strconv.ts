/**
 * The value syntaxes of Go's `flag` package as fleet v1.0 (built with Go 1.7) accepted them
 * for `fleet.conf` options and `FLEET_*` variables. Each returns `undefined` for text Go
 * would reject; what to tell the operator is the caller's business.
 */

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** `strconv.ParseBool`. */
export function parseGoBool(s: string): boolean | undefined {
  if (GO_TRUE.has(s)) return true;
  if (GO_FALSE.has(s)) return false;
  return undefined;
}

// Base 0 before Go 1.13: `0x` hex, a leading `0` octal, else decimal; no `0b`, `0o` or `_`.
const GO_INT = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** `strconv.ParseInt(s, 0, 64)`, as the `flag` package's int flags use it. */
export function parseGoInt(s: string): number | undefined {
  const match = GO_INT.exec(s);
  if (match === null) return undefined;
  const [, sign, hex, octal, decimal] = match;
  let magnitude: bigint;
  if (hex !== undefined) magnitude = BigInt(`0x${hex}`);
  else if (octal !== undefined) magnitude = BigInt(`0o${octal.slice(1) || '0'}`);
  else magnitude = BigInt(decimal!);
  const value = sign === '-' ? -magnitude : magnitude;
  if (value < INT64_MIN || value > INT64_MAX) return undefined;
  return Number(value);
}

const GO_FLOAT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/**
 * `strconv.ParseFloat(s, 64)` of Go 1.7 (no hex floats, no `_`; overflow is an error), but
 * only finite values: Go's `inf` and `nan` spellings fit no fleet option.
 */
export function parseGoFloat(s: string): number | undefined {
  if (!GO_FLOAT.test(s)) return undefined;
  const value = Number(s);
  return Number.isFinite(value) ? value : undefined;
}
