import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTabbed } from '../../src/fleetctl/table.js';
import { loadGolden } from './golden-replay.js';

/**
 * A reference written from Go's description of text/tabwriter rather than its code: a
 * column block is a maximal run of adjacent lines that all have a cell in that column
 * (the text after a line's last tab is no cell); its width is the widest cell plus the
 * padding, rounded up to the tab width when padding with tabs; a cell is padded with
 * as many tabs as it takes to reach that width.
 */
function referenceTabwriter(text: string, tabwidth = 8, padding = 1): string {
  const lines = text.split('\n').map((line) => line.split('\t'));
  const runes = (s: string) => [...s].length;
  const hasCell = (line: number, column: number) =>
    line >= 0 && line < lines.length && lines[line]!.length - 1 > column;
  return lines
    .map((cells, i) =>
      cells
        .map((cell, column) => {
          if (column === cells.length - 1) return cell;
          let first = i;
          while (hasCell(first - 1, column)) first--;
          let last = i;
          while (hasCell(last + 1, column)) last++;
          let width = 0;
          for (let line = first; line <= last; line++) {
            width = Math.max(width, runes(lines[line]![column]!) + padding);
          }
          const rounded = Math.ceil(width / tabwidth) * tabwidth;
          return cell + '\t'.repeat(Math.ceil((rounded - runes(cell)) / tabwidth));
        })
        .join(''),
    )
    .join('\n');
}

const cellText = fc.string({
  unit: fc.constantFrom('a', 'b', 'Z', '0', '-', '.', '/', ' ', 'é', '日', '🚀'),
  maxLength: 20,
});

const table = fc
  .array(fc.array(cellText, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 })
  .chain((rows) =>
    fc.boolean().map((trailingNewline) => {
      const text = rows.map((row) => row.join('\t')).join('\n');
      return trailingNewline ? `${text}\n` : text;
    }),
  );

describe('formatTabbed, Go text/tabwriter as fleetctl configures it', () => {
  it('agrees with a reference written from the algorithm description', () => {
    fc.assert(
      fc.property(table, (text) => {
        expect(formatTabbed(text)).toBe(referenceTabwriter(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('pads a column to the longest cell plus one, rounded up to 8, with tabs', () => {
    expect(formatTabbed('UNIT\tHASH\nhello.service\te55c0ae\n')).toBe(
      'UNIT\t\tHASH\nhello.service\te55c0ae\n',
    );
  });

  it('does not pad the last cell of a line', () => {
    expect(formatTabbed('a\tb\nlonger cell\tc')).toBe('a\t\tb\nlonger cell\tc');
  });

  it('ends a column block at a line without that column', () => {
    expect(formatTabbed('aaaaaaaaaaaa\tx\nplain\nb\ty\n')).toBe('aaaaaaaaaaaa\tx\nplain\nb\ty\n');
  });

  it('counts runes, not bytes or UTF-16 units', () => {
    expect(formatTabbed('日本語日本語日\tx\nab\ty')).toBe('日本語日本語日\tx\nab\ty');
  });

  it('writes a form feed as a newline and starts new column blocks after it', () => {
    expect(formatTabbed('a\tb\fccccccccccccccc\td\n')).toBe('a\tb\nccccccccccccccc\td\n');
  });

  // Every recorded table and help text: collapsing each run of padding tabs to one gives
  // the text fleetctl wrote into its tab writer, which must come out as recorded.
  const recorded = loadGolden().steps.filter(
    (step) => step.result?.exitCode === 0 && step.result.stdout.includes('\t'),
  );
  it.each(recorded.map((step) => [step.id, step.result!.stdout] as const))(
    'reproduces the recorded output of %s',
    (_id, stdout) => {
      expect(formatTabbed(stdout.replace(/\t+/g, '\t'))).toBe(stdout);
    },
  );
});
