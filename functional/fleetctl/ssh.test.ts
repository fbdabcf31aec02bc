// fleetctl's SSH against real machines: `ssh`, `status` and `journal --sudo` of a unit on a
// remote machine, host-key verification when a member's host key changes, and `--tunnel`. Each
// machine of the cluster runs sshd (the cluster's `ssh` option); fleetctl runs inside the
// harness network namespace (machines' addresses are not reachable from the host) with an
// ssh-agent of the test's own. Test names carry fleet's functional test they port.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  type ClusterMachine,
  ensureFreshBuild,
  FLEET_TCP_PORT,
  processRunning,
  SshAgent,
} from '../../cluster/index.js';
import { harnessUnavailable, REPO_ROOT, type RunResult, teardown } from '../../harness/index.js';
import { show } from '../fleetctl-output.js';
import { expectNoLeftovers } from '../fleetd/units.js';

const unavailable =
  harnessUnavailable() ??
  (['/usr/sbin/sshd', '/usr/bin/ssh-keygen', '/usr/bin/ssh-agent', '/usr/bin/sudo'].find(
    (p) => !existsSync(p),
  ) === undefined
    ? undefined
    : 'openssh-server or sudo is not installed');
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const EXAMPLES = join(REPO_ROOT, 'examples');
const CHANGED_BANNER = 'REMOTE HOST IDENTIFICATION HAS CHANGED';

describe.skipIf(unavailable !== undefined)('fleetctl over SSH to cluster machines', () => {
  let cluster: Cluster;
  let agent: SshAgent | undefined;
  let dir: string;
  let knownHosts: string;

  /** fleetctl in the harness netns, against m1's TCP API, with the agent and our known_hosts. */
  function fleetctl(
    args: readonly string[],
    opts: { input?: string; strict?: boolean; via?: ClusterMachine } = {},
  ): Promise<RunResult> {
    const via = opts.via ?? cluster.machine('m1');
    return cluster.fleetctlInNetwork(
      [
        `--endpoint=http://${via.ip}:${FLEET_TCP_PORT}`,
        `--known-hosts-file=${knownHosts}`,
        `--strict-host-key-checking=${opts.strict === true}`,
        ...args,
      ],
      {
        env: agent!.env,
        cwd: EXAMPLES,
        ...(opts.input !== undefined && { input: opts.input }),
      },
    );
  }

  beforeAll(async () => {
    await ensureFreshBuild();
    dir = await mkdtemp(join(tmpdir(), 'fleetctl-ssh-test-'));
    knownHosts = join(dir, 'known_hosts');
    agent = await SshAgent.start();
    cluster = await Cluster.start({
      name: 'fleetctl-ssh',
      machines: 3,
      ssh: { authorizedKeys: [agent.publicKey] },
    });
  });

  afterEach(async () => {
    await rm(knownHosts, { force: true });
    if (cluster === undefined || cluster.network.record.destroyed) return;
    await cluster.destroyAllUnits();
  });

  afterAll(async () => {
    await teardown();
    const pid = agent?.pid;
    await agent?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    if (pid !== undefined) expect(processRunning(pid)).toBe(false);
  });

  it('every machine runs sshd on port 22 with host keys of its own', async () => {
    const keys = await Promise.all(
      cluster.live().map(async (m) => {
        expect(await cluster.unitProperty(m, 'ssh.service', 'ActiveState')).toBe('active');
        const r = await cluster.execOk(m, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub']);
        return r.stdout.split(' ')[1];
      }),
    );
    const host = (
      await readFile('/etc/ssh/ssh_host_ed25519_key.pub', 'utf8').catch(() => '')
    ).split(' ')[1];
    expect(new Set(keys).size).toBe(3);
    expect(keys).not.toContain(host);
  });

  it('TestUnitSSHActions: ssh, status and journal --sudo of a unit on a remote machine', async () => {
    const start = await fleetctl(['start', 'hello.service']);
    expect(start.code, show(start)).toBe(0);
    const [state] = await cluster.waitForActiveUnits(1);
    // fleetctl runs in the harness netns, which is no machine: every machine is remote.
    expect(cluster.byId(state!.machineID!).name).toMatch(/^m[123]$/);

    const ssh = await fleetctl(['ssh', 'hello.service', 'echo', 'foo']);
    expect(ssh.code, show(ssh)).toBe(0);
    expect(ssh.stdout).toContain('foo');

    const status = await fleetctl(['status', 'hello.service']);
    expect(status.code, show(status)).toBe(0);
    expect(status.stdout).toContain('Active: active');

    const journal = await fleetctl(['journal', '--sudo', 'hello.service']);
    expect(journal.code, show(journal)).toBe(0);
    expect(journal.stdout).toContain('Hello, world');
    expect(journal.stderr).not.toContain('sudo:');
  });

  it('TestUnitSSHActions, from inside a machine: its own units locally, the others over SSH', async () => {
    const [m1, m2] = [cluster.machine('m1'), cluster.machine('m2')];
    const hello = await readFile(join(EXAMPLES, 'hello.service'), 'utf8');
    const pinned = (m: ClusterMachine) => `${hello}\n[X-Fleet]\nMachineID=${m.id}\n`;
    await cluster.putUnit('here.service', pinned(m1));
    await cluster.putUnit('there.service', pinned(m2));
    const states = await cluster.waitForActiveUnits(2);
    expect(Object.fromEntries(states.map((s) => [s.name, s.machineID]))).toEqual({
      'here.service': m1.id,
      'there.service': m2.id,
    });
    // An agent of m1's own (the host's /tmp is not m1's), holding the test's key.
    const sock = '/run/fleet-ssh-test-agent.sock';
    await cluster.execOk(
      m1,
      [
        '/bin/sh',
        '-euc',
        `umask 077; cat >/root/fleet-ssh-test-key; ssh-agent -a ${sock} >/dev/null; ssh-add -q /root/fleet-ssh-test-key`,
      ],
      { input: await readFile(agent!.keyPath, 'utf8'), env: { SSH_AUTH_SOCK: sock } },
    );
    const inM1 = (args: string[]) =>
      cluster.fleetctl(m1, ['--known-hosts-file=/root/known_hosts', ...args], {
        env: { SSH_AUTH_SOCK: sock },
        input: 'yes\n',
      });

    // Local: no SSH, so no host key to accept.
    const local = await inM1(['status', 'here.service']);
    expect(local.code, show(local)).toBe(0);
    expect(local.stdout).toContain('Active: active');
    expect(local.stderr).not.toContain('authenticity');
    const localJournal = await inM1(['journal', '--sudo', 'here.service']);
    expect(localJournal.code, show(localJournal)).toBe(0);
    expect(localJournal.stdout).toContain('Hello, world');

    // Remote: over SSH to m2's public IP, whose key is accepted once.
    const remote = await inM1(['status', 'there.service']);
    expect(remote.code, show(remote)).toBe(0);
    expect(remote.stderr).toContain(`Warning: Permanently added '${m2.ip}'`);
    expect(remote.stdout).toContain('Active: active');
    const remoteJournal = await inM1(['journal', '--sudo', 'there.service']);
    expect(remoteJournal.code, show(remoteJournal)).toBe(0);
    expect(remoteJournal.stderr).not.toContain('authenticity');
    expect(remoteJournal.stdout).toContain('Hello, world');
    const ssh = await inM1(['ssh', 'there.service', 'hostname']);
    expect(ssh.code, show(ssh)).toBe(0);
    expect(ssh.stdout.trim()).toBe('m2');
  });

  it('TestKnownHostsVerification: a new host key is accepted on "yes", a changed one refused', async () => {
    const m2 = cluster.machine('m2');
    const first = await fleetctl(['ssh', m2.id, 'uptime'], { strict: true, input: 'yes\n' });
    expect(first.code, show(first)).toBe(0);
    expect(first.stderr).toContain(`The authenticity of host '${m2.ip}' can't be established.`);
    expect(first.stderr).toContain(`Warning: Permanently added '${m2.ip}'`);
    expect(first.stdout).toContain('load average');
    expect(await readFile(knownHosts, 'utf8')).toContain(m2.ip);

    // Known now: no prompt.
    const again = await fleetctl(['ssh', m2.id, 'uptime'], { strict: true });
    expect(again.code, show(again)).toBe(0);
    expect(again.stderr).not.toContain('authenticity');

    await cluster.regenerateHostKeys(m2);
    const changed = await fleetctl(['ssh', m2.id, 'uptime'], { strict: true, input: 'yes\n' });
    expect(changed.code, show(changed)).not.toBe(0);
    expect(changed.stderr).toContain(CHANGED_BANNER);
    expect(changed.stderr).toContain(`Add correct host key in ${knownHosts} to get rid`);
    expect(changed.stdout).not.toContain('load average');

    await writeFile(knownHosts, '');
    const fresh = await fleetctl(['ssh', m2.id, 'uptime'], { strict: true, input: 'yes\n' });
    expect(fresh.code, show(fresh)).toBe(0);
    expect(fresh.stdout).toContain('load average');

    // As fleet's test did: the member replaced (a new machine, same address, new host keys).
    const next = await cluster.replace(m2);
    await cluster.waitForMachines(3);
    const replaced = await fleetctl(['ssh', next.id, 'uptime'], { strict: true, input: 'yes\n' });
    expect(replaced.code, show(replaced)).not.toBe(0);
    expect(replaced.stderr).toContain(CHANGED_BANNER);
  });

  it('TestTunnelScheduleBatchUnits: start 11 units through --tunnel', async () => {
    const m1 = cluster.machine('m1');
    const tunnel = (args: string[]) =>
      fleetctl([`--tunnel=${m1.ip}`, ...args], { strict: true, input: 'yes\n' });
    const one = await tunnel(['start', 'hello.service']);
    expect(one.code, show(one)).toBe(0);
    expect(one.stderr).not.toContain('Error');
    expect(one.stderr).toContain(`Warning: Permanently added '${m1.ip}'`);
    const instances = Array.from({ length: 10 }, (_, i) => `hello@${i + 1}.service`);
    const batch = await tunnel(['start', ...instances]);
    expect(batch.code, show(batch)).toBe(0);
    expect(batch.stderr).not.toContain('Error');
    const active = await cluster.waitForActiveUnits(11, { timeoutMs: 120_000 });
    expect(active.map((s) => s.name).sort()).toEqual(['hello.service', ...instances].sort());
  });

  it('leaves nothing behind', async () => {
    await teardown();
    const pid = agent!.pid;
    await agent!.stop();
    expect(agent!.running).toBe(false);
    expect(processRunning(pid)).toBe(false);
    agent = undefined;
    expectNoLeftovers();
  });
});
