// Go's unicode.IsSpace, which differs from String.prototype.trim (U+0085 yes, U+FEFF no).
const GO_SPACE =
  '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING_OR_TRAILING_GO_SPACE = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, 'g');

/** Go's `strings.TrimSpace`. */
export function goTrimSpace(s: string): string {
  return s.replace(LEADING_OR_TRAILING_GO_SPACE, '');
}
