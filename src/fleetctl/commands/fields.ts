import { quoteString } from '../../go/text.js';
import type { CommandContext } from '../context.js';
import { formatTabbed } from '../table.js';

/**
 * The `--fields` of the list commands: a comma-separated list of known column keys. On a
 * bad list, prints fleet's message and returns null.
 */
export function parseFields(
  context: CommandContext,
  known: readonly string[],
  onField?: (field: string) => void,
): string[] | null {
  const text = context.flags.string('fields');
  if (text === '') {
    context.stderr.write('Must define output format\n');
    return null;
  }
  const fields = text.split(',');
  for (const field of fields) {
    if (!known.includes(field)) {
      context.stderr.write(`Invalid key in output format: ${quoteString(field)}\n`);
      return null;
    }
    onField?.(field);
  }
  return fields;
}

/** A table as fleet prints one: an upper-cased legend unless `--no-legend`, tab-padded. */
export function printTable(
  context: CommandContext,
  fields: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const lines = context.flags.bool('no-legend') ? [] : [fields.join('\t').toUpperCase()];
  for (const row of rows) lines.push(row.join('\t'));
  context.stdout.write(formatTabbed(lines.map((line) => `${line}\n`).join('')));
}
