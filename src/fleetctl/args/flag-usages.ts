import { quoteString } from '../../go/text.js';
import type { FlagKind, FlagSpec } from './flags.js';

/** pflag's type names as `UnquoteUsage` shows them; booleans show none. */
const TYPE_NAMES: Record<FlagKind, string> = {
  bool: '',
  string: 'string',
  int: 'int',
  float: 'float',
};

const ZERO_DEFAULTS: Record<FlagKind, string> = {
  bool: 'false',
  string: '',
  int: '0',
  float: '0',
};

/** The left part of a flag's usage line: `      --name type`. */
export function flagTerm(flag: FlagSpec): string {
  const typeName = TYPE_NAMES[flag.kind];
  return `      --${flag.name}${typeName === '' ? '' : ` ${typeName}`}`;
}

/** The flag's usage, with its default when that is not the type's zero value. */
export function flagDescription(flag: FlagSpec): string {
  if (flag.defaultText === ZERO_DEFAULTS[flag.kind]) return flag.usage;
  const shown = flag.kind === 'string' ? quoteString(flag.defaultText) : flag.defaultText;
  return `${flag.usage} (default ${shown})`;
}

export interface FlagUsageLine {
  name: string;
  term: string;
  description: string;
}

/** pflag's `FlagUsages` layout: sorted by name, usage aligned one column past the longest. */
export function layoutFlagUsages(lines: readonly FlagUsageLine[]): string {
  const sorted = [...lines].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // pflag pads to the longest left part plus one, then Println adds a space on each side.
  const width = Math.max(0, ...sorted.map(({ term }) => term.length)) + 1;
  return sorted.map(({ term, description }) => `${term.padEnd(width)}  ${description}\n`).join('');
}

/** pflag's `FlagUsages` of a flag list. */
export function flagUsages(flags: readonly FlagSpec[]): string {
  return layoutFlagUsages(
    flags.map((flag) => ({
      name: flag.name,
      term: flagTerm(flag),
      description: flagDescription(flag),
    })),
  );
}
