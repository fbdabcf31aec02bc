import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from './fake-api-server.js';
import { FakeCluster } from './fake-cluster.js';
import {
  loadGolden,
  replayGolden,
  type StepOutcome,
  THROUGH_FLEET_DEVIATIONS,
} from './golden-replay.js';
import { runInProcess } from './in-process.js';

const MACHINES = {
  '0a1b2c3d4e5f40718293a4b5c6d7e8f9': 'r1',
  '1b2c3d4e5f60718293a4b5c6d7e8f90a': 'r2',
  '2c3d4e5f60718293a4b5c6d7e8f90a1b': 'r3',
};
const BIN = fileURLToPath(new URL('../../bin/fleetctl', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/fleetctl/main.js', import.meta.url));

let server: FakeApiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function failures(outcomes: StepOutcome[]): string[] {
  return outcomes.filter((o) => !o.passed).map(({ id, detail }) => `${id}: ${detail}`);
}

describe('the recorded transcript over the real HTTP driver, against a fake fleet API', () => {
  it('matches every step in-process', async () => {
    server = await FakeApiServer.start(FakeCluster.withMachines(MACHINES));
    const outcomes = await replayGolden({
      fleetctl: `fleetctl --endpoint ${server.endpoint} --driver API`,
      machines: MACHINES,
      run: (command, env) => runInProcess(command.slice(1), { env, realDrivers: true }),
      settle: async () => {},
    });
    expect(failures(outcomes)).toEqual([]);
    expect(outcomes).toHaveLength(loadGolden().steps.length);
  });

  it('checks the steps fleet now serves by their deviation, against an API that serves them', async () => {
    const status = '● hello.service - Hello World\n     Active: active (running)\n';
    server = await FakeApiServer.start(
      FakeCluster.withMachines(MACHINES),
      undefined,
      (_request, _req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        res.end(
          `${JSON.stringify({ stdout: Buffer.from(status).toString('base64') })}\n{"exit":0}\n`,
        );
      },
    );
    const outcomes = await replayGolden({
      fleetctl: `fleetctl --endpoint ${server.endpoint} --driver API`,
      machines: MACHINES,
      run: (command, env) => runInProcess(command.slice(1), { env, realDrivers: true }),
      settle: async () => {},
      deviations: THROUGH_FLEET_DEVIATIONS,
    });
    expect(failures(outcomes)).toEqual([]);
    expect(outcomes.filter((o) => o.deviated).map((o) => o.id)).toEqual(['status-remote-unit']);
    // The recorded SSH failure is not what a serving cluster may answer.
    const recorded = loadGolden().steps.find((step) => step.id === 'status-remote-unit')!.result!;
    expect(THROUGH_FLEET_DEVIATIONS['status-remote-unit']!(recorded)).toContain('exit code 255');
  });

  // Needs `npm run build`; waits run at fleet's own pace (2 s attempts), hence the time.
  it.skipIf(!existsSync(BUILT))(
    'matches every step with the built CLI',
    async () => {
      server = await FakeApiServer.start(FakeCluster.withMachines(MACHINES));
      const outcomes = await replayGolden({
        fleetctl: `${process.execPath} ${BIN} --endpoint ${server.endpoint} --driver API`,
        machines: MACHINES,
        settle: async () => {},
        defaultTimeoutMs: 30_000,
      });
      expect(failures(outcomes)).toEqual([]);
    },
    180_000,
  );
});
