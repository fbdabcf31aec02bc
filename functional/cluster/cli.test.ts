// `npm run cluster`, the local-cluster command the quick start and the benchmarks use, driven as
// a person drives it: up, ls, fleetctl, stop-fleet, kill, down. Pins what scripts read from it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterStateDir, readState } from '../../cluster/detached.js';
import { ensureFreshBuild } from '../../cluster/index.js';
import { harnessUnavailable, REPO_ROOT, type RunResult } from '../../harness/index.js';
import { run } from '../../harness/proc.js';
import { show } from '../fleetctl-output.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const NAME = `cli-${process.pid.toString(36)}`;
const MACHINE_LINE =
  /^(m1|m2) +([0-9a-f]{32}) +(10\.213\.\d+\.\d+) +(unix:\/\/\/proc\/\d+\/root\/run\/fleet\.sock)$/;

/** The cluster command as `npm run cluster --` runs it, on this test's own cluster. */
function cluster(...args: string[]): Promise<RunResult> {
  return run(
    [
      process.execPath,
      '--import',
      './cluster/register.mjs',
      'cluster/cli.ts',
      '--cluster',
      NAME,
      ...args,
    ],
    { cwd: REPO_ROOT, timeoutMs: 120_000 },
  );
}

/** `ls` split into cells, one array per machine. */
async function machines(): Promise<string[][]> {
  const r = await cluster('ls');
  expect(r.code, show(r)).toBe(0);
  return r.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(/ +/));
}

describe.skipIf(unavailable !== undefined)('the local-cluster command', () => {
  let up: RunResult;
  let netns: string | undefined;

  beforeAll(async () => {
    await ensureFreshBuild();
    up = await cluster('up', '--machines', '2');
    netns = readState(clusterStateDir(NAME))?.harness?.netns;
  });

  afterAll(async () => {
    await cluster('down');
  });

  it('up prints one line per machine: name, machine ID, address and its unix API socket', () => {
    expect(up.code, show(up)).toBe(0);
    const lines = up.stdout.split('\n');
    const machineLines = lines.filter((line) => /^m\d/.test(line));
    expect(machineLines).toHaveLength(2);
    for (const line of machineLines) expect(line).toMatch(MACHINE_LINE);
    expect(up.stdout).toContain(`npm run cluster -- --cluster ${NAME} fleetctl -- list-machines`);
  });

  it('ls prints no header, one line per machine with its state', async () => {
    const ids = up.stdout
      .split('\n')
      .map((line) => MACHINE_LINE.exec(line))
      .filter((match) => match !== null)
      .map((match) => [match[1], match[2], match[3]]);
    expect(await machines()).toEqual(ids.map((cells) => [...cells, 'running']));
  });

  it('fleetctl runs against the cluster and lists both machines', async () => {
    const r = await cluster('fleetctl', '--', 'list-machines', '--no-legend', '--fields', 'ip');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(
      (await machines()).map((cells) => cells[2]).sort(),
    );
  });

  it('ls shows a machine whose fleet was stopped, and one that was powered off', async () => {
    const stop = await cluster('stop-fleet', 'm1');
    expect(stop.code, show(stop)).toBe(0);
    const kill = await cluster('kill', 'm2');
    expect(kill.code, show(kill)).toBe(0);
    expect((await machines()).map((cells) => [cells[0], cells[3]])).toEqual([
      ['m1', 'fleet-inactive'],
      ['m2', 'killed'],
    ]);
  });

  it('down removes the cluster, its state and its network namespace', async () => {
    const r = await cluster('down');
    expect(r.code, show(r)).toBe(0);
    expect(existsSync(clusterStateDir(NAME))).toBe(false);
    expect(netns).toBeDefined();
    expect(existsSync(join('/run/netns', netns!))).toBe(false);
    const ls = await cluster('ls');
    expect(ls.code).not.toBe(0);
  });
});
