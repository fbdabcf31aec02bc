// `fleetctl status` and `journal` through fleet itself, with no SSH set up (issue 18): our
// bin/fleetctl on the host, without ssh-agent, against m1's socket, on two real systemd
// machines whose fleetds have peer certificates (every cluster mode installs them). A unit on
// m1 is served by m1's fleetd; one on m2 is forwarded to m2's peer listener. What fleetctl
// prints is compared with the same command run in the machine directly. Whether a caller
// without the operate role is refused is checked on the secure cluster of
// functional/api/auth.test.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type ClusterMachine, ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { harnessUnavailable, type RunResult, teardown } from '../../harness/index.js';
import { show } from '../fleetctl-output.js';
import { expectNoLeftovers } from '../fleetd/units.js';
import { FLEETCTL_BIN } from './fixtures.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

/**
 * Prints two fixed lines, then sleeps; SIGUSR1 makes it print `line after` (for `journal -f`).
 * The sleep runs in the background so that the trap fires at once.
 */
function talker(xFleet: string): string {
  return (
    '[Unit]\nDescription=Ops talker\n\n[Service]\n' +
    `ExecStart=/bin/sh -c 'trap "echo line after" USR1; echo line one; echo line two; while :; do sleep 3000 & wait $!; done'\n` +
    `\n[X-Fleet]\n${xFleet}\n`
  );
}

const FAILING =
  '[Unit]\nDescription=Ops failing\n\n[Service]\nExecStart=/bin/sh -c "echo giving up; exit 3"\n';
const GLOBAL =
  '[Unit]\nDescription=Ops everywhere\n\n[Service]\n' +
  `ExecStart=/bin/sh -c 'echo "on $(hostname)"; exec sleep 3000'\n\n[X-Fleet]\nGlobal=true\n`;

/** systemctl status with the lines that change by the second (times, usage) masked. */
function masked(status: string): string {
  return status.replace(/^(\s*(?:Active|Memory|Mem peak|CPU|Tasks|IO):).*$/gm, '$1 <masked>');
}

/** No ssh-agent: `SSH_AUTH_SOCK` empty is unset to fleet. */
const NO_AGENT = { SSH_AUTH_SOCK: '' };

describe.skipIf(unavailable !== undefined)('fleetctl status and journal through fleet', () => {
  let cluster: Cluster;
  let m1: ClusterMachine;
  let m2: ClusterMachine;

  const fleetctl = (args: readonly string[]): Promise<RunResult> =>
    cluster.fleetctl('host', args, { via: 'm1', env: NO_AGENT });

  /** The command run in the machine itself. */
  const inMachine = (m: ClusterMachine, argv: readonly string[]) => cluster.exec(m, argv);

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'fleetctl-ops', machines: 2 });
    m1 = cluster.machine('m1');
    m2 = cluster.machine('m2');
    await Promise.all([
      cluster.putUnit('here.service', talker(`MachineID=${m1.id}`)),
      cluster.putUnit('there.service', talker(`MachineID=${m2.id}`)),
      cluster.putUnit('failing.service', `${FAILING}\n[X-Fleet]\nMachineID=${m2.id}\n`),
      cluster.putUnit('everywhere.service', GLOBAL),
    ]);
    await waitFor(
      'four active units and a failed one',
      () => cluster.unitStates(),
      (states) =>
        states.filter((s) => s.systemdActiveState === 'active').length === 4 &&
        states.some((s) => s.name === 'failing.service' && s.systemdActiveState === 'failed'),
      { timeoutMs: 60_000 },
    );
    // The talkers have printed their lines.
    await Promise.all(
      [m1, m2].map((m) =>
        waitFor(
          `${m.name}'s talker printed`,
          () => inMachine(m, ['journalctl', '-u', m === m1 ? 'here' : 'there', '-o', 'cat']),
          (r) => r.stdout.includes('line two'),
        ),
      ),
    );
  });

  afterAll(async () => {
    await teardown();
  });

  it('status, here and on the other machine: what systemctl status prints there, and its exit', async () => {
    for (const [unit, m] of [
      ['here.service', m1],
      ['there.service', m2],
      ['failing.service', m2],
    ] as const) {
      const viaFleet = await fleetctl(['status', unit]);
      const direct = await inMachine(m, ['systemctl', 'status', '-l', unit]);
      expect(viaFleet.stderr, show(viaFleet)).toBe(direct.stderr);
      expect(masked(viaFleet.stdout)).toBe(masked(direct.stdout));
      expect(viaFleet.code, show(viaFleet)).toBe(direct.code);
    }
    const running = await fleetctl(['status', 'there.service']);
    expect(running.stdout).toMatch(/Active: active \(running\)/);
    expect((await fleetctl(['status', 'failing.service'])).code).toBe(3);
  });

  it('journal, here and on the other machine: the bytes journalctl prints there', async () => {
    for (const [unit, m] of [
      ['here.service', m1],
      ['there.service', m2],
    ] as const) {
      const viaFleet = await fleetctl(['journal', '--lines=5', unit]);
      const direct = await inMachine(m, [
        'journalctl',
        '--unit',
        unit,
        '--no-pager',
        '-n',
        '5',
        '--output',
        'short',
      ]);
      expect(viaFleet.code, show(viaFleet)).toBe(0);
      expect(viaFleet.stdout).toBe(direct.stdout);
      expect(viaFleet.stdout).toContain('line two');
    }
  });

  it('journal -f shows a line printed after it started, and leaves no journalctl behind', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('FLEETCTL_')),
    );
    const child: ChildProcess = spawn(
      process.execPath,
      [
        FLEETCTL_BIN,
        `--endpoint=${cluster.apiMachine('m1').endpoint}`,
        'journal',
        '--follow',
        '--output=cat',
        'there.service',
      ],
      { env: { ...env, ...NO_AGENT }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ended = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on('exit', (code, signal) => resolve(signal ?? code)),
    );
    try {
      await waitFor(
        'the journal so far',
        async () => stdout,
        (out) => out.includes('line two'),
      );
      expect(stdout).not.toContain('line after');
      await cluster.execOk(m2, [
        'systemctl',
        'kill',
        '--kill-whom=main',
        '-s',
        'USR1',
        'there.service',
      ]);
      await waitFor(
        'the new line',
        async () => stdout,
        (out) => out.includes('line after'),
      );
      expect(await inMachine(m2, ['pgrep', '-x', 'journalctl'])).toMatchObject({ code: 0 });
      child.kill('SIGINT');
      expect(await ended).toBe('SIGINT');
    } finally {
      child.kill('SIGKILL');
    }
    expect(stderr).toBe('');
    for (const m of [m1, m2]) {
      await waitFor(
        `no journalctl left in ${m.name}`,
        () => inMachine(m, ['pgrep', '-x', 'journalctl']),
        (r) => r.code === 1,
        { timeoutMs: 10_000 },
      );
    }
  });

  it("a global unit's journal on the machine --machine names by ID prefix", async () => {
    const journal = await fleetctl([
      'journal',
      `--machine=${m2.id.slice(0, 8)}`,
      '--output=cat',
      'everywhere.service',
    ]);
    expect(journal.code, show(journal)).toBe(0);
    expect(journal.stdout).toContain('on m2\n');
    expect(journal.stdout).not.toContain('on m1');
    // Without --machine, the recorded behaviour.
    const unnamed = await fleetctl(['journal', 'everywhere.service']);
    expect(unnamed).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Unable to retrieve journal of global unit everywhere.service.\n',
    });
  });

  it('leaves nothing behind', async () => {
    await teardown();
    expectNoLeftovers();
  });
});
