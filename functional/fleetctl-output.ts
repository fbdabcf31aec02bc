// Readers of fleetctl's results that every functional file shares: a failed run as an
// assertion message, and tables split the way fleet's own functional harness split them.
import type { RunResult } from '../harness/index.js';

/** A failed run as the assertion message: its command, exit status and both streams. */
export function show(r: RunResult): string {
  return `${r.argv.slice(-8).join(' ')}: exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The rows of a `--no-legend` table, each split on whitespace. */
export function tableRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s+/));
}

/** `<machine ID>/<ip>` (or `<prefix>.../<ip>`) of a MACHINE column → the ID part; `-` and `global` stay. */
export function machineIdOf(cell: string | undefined): string {
  return (cell ?? '-').split('/')[0] ?? '-';
}
