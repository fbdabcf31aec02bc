import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadGolden, replayGolden, type StepOutcome } from './golden-replay.js';
import { runInProcess } from './in-process.js';

/**
 * The recorded steps whose outcome needs no cluster: version and help, argument and flag
 * errors, client-construction errors, and the commands that stop before their first
 * request. `ssh-unknown-target` is left out: with no API its lookups fail, and it only
 * matches because ssh swallows lookup errors.
 */
const CLUSTER_INDEPENDENT = new Set([
  'version',
  'version-flag',
  'version-short-flag',
  'version-flag-not-first',
  'help',
  'help-flag',
  'help-start',
  'help-list-units',
  'start-help-flag',
  'unknown-command',
  'unknown-command-suggestion',
  'shorthand-l-rejected',
  'lowercase-driver',
  'endpoint-unix-with-host',
  'verify-deprecated',
  'fd-forward-no-args',
  'list-machines-empty-fields',
  'submit-no-args',
  'load-no-args',
  'start-no-args',
  'stop-no-args',
  'unload-no-args',
  'destroy-no-args',
  'journal-no-args',
  'ssh-no-args',
  'list-unit-files-bad-field',
  'list-units-bad-field',
  'restart-no-args',
]);

// Nothing listens here: a step that reached the API would fail.
const PREFIX = '--endpoint http://127.0.0.1:9 --driver API';
const MACHINES = { '0a1b2c3d4e5f40718293a4b5c6d7e8f9': 'r1' };
const BIN = fileURLToPath(new URL('../../bin/fleetctl', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/fleetctl/main.js', import.meta.url));

function failures(outcomes: StepOutcome[]): string[] {
  return outcomes.filter((o) => !o.passed).map(({ id, detail }) => `${id}: ${detail}`);
}

describe('recorded steps that need no cluster, through the golden replay runner', () => {
  it('lists steps that exist in the transcript', () => {
    const ids = new Set(loadGolden().steps.map((step) => step.id));
    expect([...CLUSTER_INDEPENDENT].filter((id) => !ids.has(id))).toEqual([]);
    expect(CLUSTER_INDEPENDENT.size).toBe(28);
  });

  it('all pass in-process', async () => {
    const outcomes = await replayGolden({
      fleetctl: `fleetctl ${PREFIX}`,
      machines: MACHINES,
      only: (step) => CLUSTER_INDEPENDENT.has(step.id),
      run: (command, env, cwd) => runInProcess(command.slice(1), { env, cwd }),
    });
    expect(failures(outcomes)).toEqual([]);
    expect(outcomes).toHaveLength(CLUSTER_INDEPENDENT.size);
  });

  // Needs `npm run build` (scripts/test.sh builds first).
  it.skipIf(!existsSync(BUILT))(
    'all pass with the built CLI',
    async () => {
      const outcomes = await replayGolden({
        fleetctl: `${process.execPath} ${BIN} ${PREFIX}`,
        machines: MACHINES,
        only: (step) => CLUSTER_INDEPENDENT.has(step.id),
        defaultTimeoutMs: 15_000,
      });
      expect(failures(outcomes)).toEqual([]);
      expect(outcomes).toHaveLength(CLUSTER_INDEPENDENT.size);
    },
    60_000,
  );
});
