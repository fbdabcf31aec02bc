import { Readable } from 'node:stream';
import type { FleetClient } from '../../src/client/types.js';
import type { Drivers, EtcdFleetClient } from '../../src/fleetctl/client/create-client.js';
import type { Timing } from '../../src/fleetctl/context.js';
import type { SshConnector } from '../../src/fleetctl/remote/ssh.js';
import { runFleetctl } from '../../src/fleetctl/run.js';
import { BufferedOutput } from './buffered-output.js';
import type { RecordedResult } from './golden-replay.js';
import { UNITS_DIR } from './golden-replay.js';

/** Waits short enough for tests: the same polling, in milliseconds instead of seconds. */
export const FAST_TIMING: Timing = { pollIntervalMs: 2, attemptWindowMs: 30 };

export interface InProcessOptions {
  /** The cluster both drivers reach; without one, a driver load fails as a missing module would. */
  cluster?: FleetClient;
  /** Load the real driver modules instead (the cluster must then be reachable over them). */
  realDrivers?: boolean;
  env?: Record<string, string | undefined>;
  cwd?: string;
  timing?: Timing;
  localMachineId?: string | null;
  ssh?: SshConnector;
  daemonVersions?: string[];
}

/** Runs fleetctl's `runFleetctl` with captured output, as a process would (argv after the program). */
export async function runInProcess(
  argv: readonly string[],
  options: InProcessOptions = {},
): Promise<RecordedResult> {
  const stdout = new BufferedOutput();
  const stderr = new BufferedOutput();
  const cluster = options.cluster;
  const drivers: Drivers = {
    api: async () => {
      if (cluster === undefined) throw new Error('no cluster in this test');
      return cluster;
    },
    etcd: async () => {
      if (cluster === undefined) throw new Error('no cluster in this test');
      const versions = options.daemonVersions ?? [];
      const client: EtcdFleetClient = Object.assign(Object.create(cluster) as FleetClient, {
        daemonVersions: async () => versions,
      });
      return client;
    },
  };
  const exitCode = await runFleetctl({
    argv,
    env: options.env ?? {},
    cwd: options.cwd ?? UNITS_DIR,
    stdin: Readable.from([]),
    stdout,
    stderr,
    ...(options.realDrivers === true ? {} : { drivers }),
    localMachineId: async () => options.localMachineId ?? null,
    timing: options.timing ?? FAST_TIMING,
    ...(options.ssh === undefined ? {} : { ssh: options.ssh }),
  });
  return { exitCode: exitCode & 0xff, stdout: stdout.text, stderr: stderr.text };
}
