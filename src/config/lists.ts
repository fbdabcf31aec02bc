/** The two comma-separated option syntaxes of fleet v1.0, split exactly as it split them. */

import { trimGoSpace } from '../go/text.js';

/**
 * fleet's `pkg.StringSlice`: split at commas, then strip spaces, `[` and `"` from the left
 * and spaces, `"` and `]` from the right of each item, so a JSON-looking array also works.
 * Empty items are kept; whether they make sense is for the caller to say.
 */
export function splitStringSlice(value: string): string[] {
  return value.split(',').map((item) => item.replace(/^[ ["]+/, '').replace(/[ "\]]+$/, ''));
}

/**
 * fleet's `Config.Metadata`: `k=v` items separated by commas, split at the first `=`, key and
 * value trimmed of whitespace; items without `=` are skipped and the last duplicate wins.
 */
export function parseMetadata(value: string): Record<string, string> {
  const pairs = new Map<string, string>();
  for (const item of value.split(',')) {
    const eq = item.indexOf('=');
    if (eq === -1) continue;
    pairs.set(trimGoSpace(item.slice(0, eq)), trimGoSpace(item.slice(eq + 1)));
  }
  // fromEntries defines own properties, so a key such as `__proto__` stays plain data.
  return Object.fromEntries(pairs);
}
