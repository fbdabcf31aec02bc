// What the fleetctl functional tests share: fleet's fixture units (examples/ holds the same
// hello.service and hello@.service as fleet's functional/fixtures/units), and the version the build
// reports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../harness/index.js';

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
