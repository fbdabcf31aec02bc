import { describe, expect, it } from 'vitest';
import {
  discoverMachines,
  endpointOf,
  loadGolden,
  replayGolden,
  type StepOutcome,
} from './golden-replay.js';

/**
 * The whole recorded transcript against a real cluster, when one is given:
 * `GOLDEN_FLEETCTL='node /path/bin/fleetctl --endpoint http://10.0.0.1:49153 --driver API'`
 * (the cluster's machines must carry metadata `name=r1` … `name=r3`, as the recorded
 * ones did, and start from no units). `GOLDEN_API` overrides the API the `waitFor` steps
 * poll; by default it is the `--endpoint` of the command line.
 */
const fleetctl = process.env.GOLDEN_FLEETCTL;

describe.skipIf(fleetctl === undefined)('the recorded transcript against a real cluster', () => {
  it('matches every step', async () => {
    const command = fleetctl!;
    const api = process.env.GOLDEN_API ?? endpointOf(command);
    if (api === undefined) throw new Error('no API endpoint: set GOLDEN_API');
    const machines = await discoverMachines(api);
    const outcomes: StepOutcome[] = await replayGolden({
      fleetctl: command,
      machines,
      api,
      onStep: (outcome) => {
        if (!outcome.passed) console.error(`FAIL ${outcome.id}\n${outcome.detail}`);
      },
    });
    expect(outcomes.filter((o) => !o.passed).map((o) => o.id)).toEqual([]);
    expect(outcomes).toHaveLength(loadGolden().steps.length);
  }, 1_800_000);
});
