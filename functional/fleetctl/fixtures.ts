// What the fleetctl functional tests share: fleet's fixture units (examples/ holds the same
// hello.service and hello@.service as fleet's functional/fixtures/units), the version the build
// reports, and readers of fleetctl's tables as fleet's harness parsed them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type RunResult } from '../../harness/index.js';

/** fleetctl's working directory in these tests: unit paths are `examples/<file>`. */
export const CWD = REPO_ROOT;
export const EXAMPLES = join(REPO_ROOT, 'examples');
export const FLEETCTL_BIN = join(REPO_ROOT, 'bin', 'fleetctl');

/** The version this build reports (package.json's, which src/version.ts mirrors). */
export const PACKAGE_VERSION = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

export function example(file: string): string {
  return readFileSync(join(EXAMPLES, file), 'utf8');
}

/** A failed run as the assertion message: exit status and both streams. */
export function show(r: RunResult): string {
  return `${r.argv.slice(-8).join(' ')}: exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The rows of a `--no-legend` table, each split on whitespace (as fleet's harness did). */
export function tableRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s+/));
}

/** `<machine ID>/<ip>` (or `<prefix>.../<ip>`) of list-units' MACHINE column → the ID part. */
export function machineIdOf(cell: string): string {
  return cell.split('/')[0] ?? '';
}
