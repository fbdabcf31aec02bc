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

/** pflag's `FlagUsages`: flags sorted by name, usage aligned one column past the longest. */
export function flagUsages(flags: readonly FlagSpec[]): string {
  const sorted = [...flags].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines = sorted.map((flag) => {
    const typeName = TYPE_NAMES[flag.kind];
    const left = `      --${flag.name}${typeName === '' ? '' : ` ${typeName}`}`;
    let usage = flag.usage;
    if (flag.defaultText !== ZERO_DEFAULTS[flag.kind]) {
      const shown = flag.kind === 'string' ? quoteString(flag.defaultText) : flag.defaultText;
      usage += ` (default ${shown})`;
    }
    return { left, usage };
  });
  // pflag pads to the longest left part plus one, then Println adds a space on each side.
  const width = Math.max(0, ...lines.map(({ left }) => left.length)) + 1;
  return lines.map(({ left, usage }) => `${left.padEnd(width)}  ${usage}\n`).join('');
}
