// fleetctl as a user runs it, against a cluster of two real systemd machines: version and help
// output, and the client configured from FLEETCTL_* environment variables instead of flags.
// Test names carry fleet's functional test they port (fleetctl_test.go, client_test.go).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  type ClusterMachine,
  ensureFreshBuild,
  FLEET_TCP_PORT,
} from '../../cluster/index.js';
import { harnessUnavailable, type RunResult, teardown } from '../../harness/index.js';
import { run } from '../../harness/proc.js';
import { show, tableRows } from '../fleetctl-output.js';
import { expectNoLeftovers } from '../fleetd/units.js';
import { CWD, FLEETCTL_BIN, PACKAGE_VERSION } from './fixtures.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

/** This process's environment without any FLEETCTL_* (the tests set exactly what they mean). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('FLEETCTL_')),
  );
  return { ...env, ...extra };
}

describe.skipIf(unavailable !== undefined)('fleetctl as a client of a two-machine cluster', () => {
  let cluster: Cluster;

  /** fleetctl inside m1, where its default endpoint is m1's own fleet.sock. */
  const inMachine = (args: readonly string[]) => cluster.fleetctl('m1', args);

  /** fleetctl on the host with no flags but `args`: the environment configures it. */
  const onHost = (args: readonly string[], env: Record<string, string>) =>
    run([process.execPath, FLEETCTL_BIN, ...args], { env: cleanEnv(env), cwd: CWD });

  /** What `list-machines --no-legend --full` must print for the cluster, sorted by ID. */
  function expectedMachineRows(): string[][] {
    return cluster
      .live()
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((m: ClusterMachine) => [m.id, m.ip, `hostname=${m.name}`]);
  }

  function expectListsCluster(r: RunResult): void {
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr, show(r)).toBe('');
    expect(tableRows(r.stdout)).toEqual(expectedMachineRows());
  }

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'fleetctl-client', machines: 2 });
  });

  afterAll(async () => {
    await teardown();
  });

  it('TestClientVersionFlag: `fleetctl version` prints exactly "fleetctl version <v>" of this build', async () => {
    const r = await inMachine(['version']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe(`fleetctl version ${PACKAGE_VERSION}\n`);
    expect(r.stderr).toBe('');
    // The flag forms, honoured as the first argument.
    for (const flag of ['--version', '-v']) {
      const f = await inMachine([flag]);
      expect(f.code, show(f)).toBe(0);
      expect(f.stdout).toBe(`fleetctl version ${PACKAGE_VERSION}\n`);
    }
  });

  it('TestClientVersionHelpOutput: `fleetctl help` shows the version', async () => {
    const r = await inMachine(['help']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`\\nVERSION:\\n\\t${PACKAGE_VERSION.replaceAll('.', '\\.')}\\n`),
    );
  });

  it('TestClientHelpFlag: --help, -h, help and no arguments all succeed with the same usage', async () => {
    const outputs: string[] = [];
    for (const args of [['--help'], ['-h'], ['help'], []]) {
      const r = await inMachine(args);
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain('USAGE:');
      expect(r.stdout).toContain('COMMANDS:');
      expect(r.stdout).toContain('list-machines');
      outputs.push(r.stdout);
    }
    expect(new Set(outputs).size).toBe(1);
  });

  it('TestFleetctlWithEnv: list-machines with FLEETCTL_ENDPOINT instead of --endpoint', async () => {
    const [m1, m2] = [cluster.machine('m1'), cluster.machine('m2')];
    // From the host, against m1's unix socket.
    expectListsCluster(
      await onHost(['list-machines', '--no-legend', '--full'], { FLEETCTL_ENDPOINT: m1.endpoint }),
    );
    // As fleet's harness did: the TCP API, from where machines' addresses are reachable.
    expectListsCluster(
      await cluster.fleetctlInNetwork(['list-machines', '--no-legend', '--full'], {
        env: { FLEETCTL_ENDPOINT: `http://${m2.ip}:${FLEET_TCP_PORT}` },
      }),
    );
    // Inside a machine: the variable beats the default endpoint (its own socket).
    expectListsCluster(
      await cluster.fleetctl('m1', ['list-machines', '--no-legend', '--full'], {
        env: { FLEETCTL_ENDPOINT: `http://${m2.ip}:${FLEET_TCP_PORT}` },
      }),
    );

    // The variable is what fleetctl used: a socket that does not exist fails...
    const nowhere = { FLEETCTL_ENDPOINT: 'unix:///nonexistent/fleet.sock' };
    const bad = await onHost(['list-machines'], nowhere);
    expect(bad.code, show(bad)).toBe(1);
    expect(bad.stderr).toContain('Error retrieving list of active machines from fleet API');
    // ...and the command line overrides it.
    expectListsCluster(
      await onHost(
        ['list-machines', '--no-legend', '--full', `--endpoint=${m1.endpoint}`],
        nowhere,
      ),
    );
  });

  it('TestFleetctlWithEnv: FLEETCTL_DRIVER=etcd with FLEETCTL_ENDPOINT and FLEETCTL_ETCD_KEY_PREFIX', async () => {
    const env = {
      FLEETCTL_DRIVER: 'etcd',
      FLEETCTL_ENDPOINT: cluster.etcdEndpoint,
      FLEETCTL_ETCD_KEY_PREFIX: cluster.keys.prefix,
    };
    expectListsCluster(
      await cluster.fleetctlInNetwork(['list-machines', '--no-legend', '--full'], { env }),
    );
    // Another key prefix is another (empty) cluster: the prefix variable was used.
    const other = await cluster.fleetctlInNetwork(['list-machines', '--no-legend'], {
      env: { ...env, FLEETCTL_ETCD_KEY_PREFIX: '/no-such-cluster/' },
    });
    expect(other.code, show(other)).toBe(0);
    expect(tableRows(other.stdout)).toEqual([]);
    // The driver name is checked as given.
    const bogus = await onHost(['list-machines'], { FLEETCTL_DRIVER: 'bogus' });
    expect(bogus.code, show(bogus)).toBe(1);
    expect(bogus.stderr).toContain('Unable to initialize client: unrecognized driver "bogus"');
  });

  it('leaves nothing behind', async () => {
    await teardown();
    expectNoLeftovers();
  });
});
