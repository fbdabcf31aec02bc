import type { CommandSpec } from './specs.js';

/** cobra's `SuggestionsMinimumDistance` default. */
const SUGGESTION_DISTANCE = 2;

/** cobra's `ld`: Levenshtein distance over bytes, case-insensitive. */
export function levenshtein(a: string, b: string): number {
  const s = Buffer.from(a.toLowerCase(), 'utf8');
  const t = Buffer.from(b.toLowerCase(), 'utf8');
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[t.length]!;
}

/**
 * cobra's `SuggestionsFor`: commands within distance 2 of what was typed, or starting with
 * it. Deprecated commands and `help` are not "available", so never suggested.
 */
export function suggestionsFor(typed: string, commands: readonly CommandSpec[]): string[] {
  return commands
    .filter((command) => command.deprecated === undefined && command.name !== 'help')
    .filter(
      (command) =>
        levenshtein(typed, command.name) <= SUGGESTION_DISTANCE ||
        command.name.toLowerCase().startsWith(typed.toLowerCase()),
    )
    .map((command) => command.name);
}
