import { describe, expect, it } from 'vitest';
import { FakeCluster } from './fake-cluster.js';
import { loadGolden, replayGolden, type StepOutcome } from './golden-replay.js';
import { runInProcess } from './in-process.js';

/** Machine IDs unlike the recorded ones, so placeholders and normalisation are exercised. */
const MACHINES = {
  '0a1b2c3d4e5f40718293a4b5c6d7e8f9': 'r1',
  '1b2c3d4e5f60718293a4b5c6d7e8f90a': 'r2',
  '2c3d4e5f60718293a4b5c6d7e8f90a1b': 'r3',
};

describe('the recorded fleetctl transcript, replayed in-process against an in-memory cluster', () => {
  it('matches every recorded step', async () => {
    const cluster = FakeCluster.withMachines(MACHINES);
    const outcomes: StepOutcome[] = await replayGolden({
      fleetctl: 'fleetctl --endpoint http://127.0.0.1:49153 --driver API',
      machines: MACHINES,
      run: (command, env) => runInProcess(command.slice(1), { cluster, env }),
      settle: async () => {},
    });
    const failures = outcomes.filter((outcome) => !outcome.passed);
    expect(failures.map(({ id, detail }) => `${id}: ${detail}`)).toEqual([]);
    expect(outcomes).toHaveLength(loadGolden().steps.length);
  });
});
