/**
 * Go's `text/tabwriter` as fleetctl configures it everywhere (tables and help text):
 * `Init(w, minwidth 0, tabwidth 8, padding 1, padchar '\t', flags 0)`. Scripts split
 * fleetctl's tables on whitespace and tests compare them byte for byte, so this follows
 * the Go algorithm step by step: cells are tab-terminated, the text after a line's last tab
 * belongs to no column, and a column block is a run of consecutive lines that all have a
 * cell in that column.
 */

export interface TabwriterSettings {
  minwidth: number;
  tabwidth: number;
  padding: number;
}

export const FLEETCTL_TABWRITER: TabwriterSettings = { minwidth: 0, tabwidth: 8, padding: 1 };

interface Cell {
  /** Width in runes, as Go counts it. */
  width: number;
  text: string;
}

/**
 * Formats `text` as one buffered tabwriter would between `Write` and `Flush`. Go flushes
 * early after every line without a tab and at a form feed; both end every column block,
 * so formatting the whole text at once gives the same bytes, form feeds included.
 */
export function formatTabbed(
  text: string,
  settings: TabwriterSettings = FLEETCTL_TABWRITER,
): string {
  // A form feed ends a line like a newline and flushes, and Go writes it out as `\n`.
  return text
    .split('\f')
    .map((segment) => new BlockFormatter(splitCells(segment), settings).render())
    .join('\n');
}

/** Splits into lines of cells; `\t` and `\v` terminate a cell, `\n` a line. */
function splitCells(text: string): Cell[][] {
  return text.split('\n').map((line) => line.split(CELL_TERMINATOR).map(cell));
}

const CELL_TERMINATOR = /[\t\v]/;
const NON_ASCII = /[^\x00-\x7f]/;

function cell(text: string): Cell {
  // Counting runes walks the string; ASCII text (nearly every cell) has one per code unit.
  return { width: NON_ASCII.test(text) ? [...text].length : text.length, text };
}

class BlockFormatter {
  private readonly widths: number[] = [];
  private out = '';

  constructor(
    private readonly lines: readonly Cell[][],
    private readonly settings: TabwriterSettings,
  ) {}

  render(): string {
    this.format(0, this.lines.length);
    return this.out;
  }

  /** Go's `format`: finds the column blocks right of the known widths, recursively. */
  private format(line0: number, line1: number): void {
    const column = this.widths.length;
    let start = line0;
    for (let current = line0; current < line1; current++) {
      if (column >= this.lines[current]!.length - 1) continue;
      // A cell exists in this column: print the lines before the block, then size it.
      this.writeLines(start, current);
      start = current;
      let width = this.settings.minwidth;
      for (; current < line1; current++) {
        const line = this.lines[current]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + this.settings.padding);
      }
      this.widths.push(width);
      this.format(start, current);
      this.widths.pop();
      // Like Go, the loop's increment skips the line that ended the block: it has no
      // cell in this column, and it is written from `start` later.
      start = current;
    }
    this.writeLines(start, line1);
  }

  private writeLines(line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      line.forEach((c, j) => {
        this.out += c.text;
        if (j < this.widths.length) this.out += this.padding(c.width, this.widths[j]!);
      });
      if (i + 1 < this.lines.length) this.out += '\n';
    }
  }

  /** Padding with tabs: the cell is widened to a multiple of the tab width. */
  private padding(textWidth: number, cellWidth: number): string {
    const { tabwidth } = this.settings;
    const rounded = Math.ceil(cellWidth / tabwidth) * tabwidth;
    return '\t'.repeat(Math.ceil((rounded - textWidth) / tabwidth));
  }
}
