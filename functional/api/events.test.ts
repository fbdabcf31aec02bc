// The event stream (ours: GET /fleet/ext/v1/events, `fleetctl events`) on a cluster of two
// real systemd machines: a scripted sequence (submit, start, stop, destroy a unit) reaches a
// `fleetctl events` whose fleetd restarts in the middle of it exactly as it reaches a stream
// that was never cut; and a stream asked to resume from a revision etcd compacted starts
// over with a reset and a snapshot.
import { type ChildProcess, spawn } from 'node:child_process';
import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type ClusterMachine, ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { harnessUnavailable, teardown } from '../../harness/index.js';
import { FLEETCTL_BIN } from '../fleetctl/fixtures.js';
import { expectNoLeftovers } from '../fleetd/units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const UNIT = 'events.service';

/** Lines of a stream as they arrive, blank ones (heartbeats) left out. */
class Lines {
  readonly lines: string[] = [];
  private partial = '';

  add(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts.filter((line) => line !== ''));
  }

  get events(): StreamEvent[] {
    return this.lines.map((line) => JSON.parse(line));
  }
}

interface StreamEvent {
  revision: string;
  type: string;
  name?: string;
  object?: unknown;
}

describe.skipIf(unavailable !== undefined)('the event stream on two machines', () => {
  let cluster: Cluster;
  const hangUps: Array<() => void> = [];

  /** The raw stream of a member's API (its unix socket, from the host). */
  function stream(m: ClusterMachine, since?: string): Lines {
    const lines = new Lines();
    const req = get(
      {
        socketPath: m.socketPath,
        path: `/fleet/ext/v1/events${since === undefined ? '' : `?since=${since}`}`,
      },
      (res) => {
        res.on('data', (chunk: Buffer) => lines.add(chunk));
        res.on('error', () => undefined);
      },
    );
    req.on('error', () => undefined);
    hangUps.push(() => req.destroy());
    return lines;
  }

  /** `fleetctl events` on the host against a member's socket, running until killed. */
  function fleetctlEvents(m: ClusterMachine, since: string): { lines: Lines; child: ChildProcess } {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('FLEETCTL_')),
    );
    const child = spawn(
      process.execPath,
      [FLEETCTL_BIN, `--endpoint=${m.endpoint}`, 'events', `--since=${since}`],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines = new Lines();
    child.stdout!.on('data', (chunk: Buffer) => lines.add(chunk));
    hangUps.push(() => child.kill('SIGTERM'));
    return { lines, child };
  }

  const until = <T>(what: string, read: () => T, done: (value: T) => boolean) =>
    waitFor(what, async () => read(), done, { timeoutMs: cluster.patienceMs });

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'api-events', machines: 2 });
  });

  afterAll(async () => {
    for (const hangUp of hangUps.splice(0)) hangUp();
    await teardown();
  });

  it('delivers every change of a scripted sequence exactly once across a fleetd restart, and resets after a compaction', async () => {
    const [m1, m2] = [cluster.machine('m1'), cluster.machine('m2')];
    // The unit runs on m2, so that restarting m1's fleetd, which fleetctl follows, leaves it be.
    const unitText = `[Service]\nExecStart=/bin/sleep 3000\n\n[X-Fleet]\nMachineID=${m2.id}\n`;

    const reference = stream(m2);
    const [reset] = (
      await until(
        'the reference snapshot',
        () => reference.events,
        (e) => e.length >= 3,
      )
    ).filter((event) => event.type === 'reset');
    expect(reset).toBeDefined();
    const since = reset!.revision;
    const followed = fleetctlEvents(m1, since);
    // The reference's lines after its snapshot, as sent, and read.
    const afterSnapshot = () =>
      reference.lines.filter((line) => (JSON.parse(line) as StreamEvent).revision !== since);
    const eventsAfterSnapshot = () =>
      afterSnapshot().map((line) => JSON.parse(line) as StreamEvent);

    await cluster.putUnit(UNIT, unitText, 'inactive', { via: m2 });
    await cluster.putUnit(UNIT, unitText, 'launched', { via: m2 });
    await cluster.waitForActiveUnits(1, { via: m2 });
    await until(
      'the start reaches fleetctl',
      () => followed.lines.lines,
      (lines) => lines.some((line) => line.includes('"systemdActiveState":"active"')),
    );

    // Cut in the middle: fleetctl's fleetd stops (dropping its stream) and starts again.
    await cluster.restartFleet(m1);
    const client = cluster.client(m2);
    try {
      await client.setUnitTargetState(UNIT, 'loaded');
      // Stopped: m2's agent reports the unit no longer launched.
      await until('the stop reported', afterSnapshot, (lines) =>
        lines.some((line) => line.includes('"currentState":"loaded","desiredState":"loaded"')),
      );
      await client.destroyUnit(UNIT);
    } finally {
      await client.close();
    }
    await until(
      'the unit and its state gone from the reference',
      eventsAfterSnapshot,
      (events) =>
        events.some((e) => e.type === 'state' && e.name === UNIT && e.object === null) &&
        events.some((e) => e.type === 'unit' && e.name === UNIT && e.object === null),
    );
    // m1's fleetd left and came back: the stream says so too.
    const m1Seen = () =>
      eventsAfterSnapshot()
        .filter((e) => e.type === 'machine' && e.name === m1.id)
        .map((e) => e.object === null);
    await until('m1 back in the reference', m1Seen, (seen) => seen.length >= 2);
    expect(m1Seen()).toEqual([true, false]);
    await until(
      'fleetctl has caught up',
      () => followed.lines.lines.length,
      (n) => n >= afterSnapshot().length,
    );
    expect(followed.child.exitCode).toBeNull();
    expect(followed.lines.lines).toEqual(afterSnapshot());
    const unitStates = eventsAfterSnapshot()
      .filter((event) => event.type === 'unit')
      .map((event) => (event.object as { desiredState?: string } | null)?.desiredState ?? null);
    expect(unitStates).toContain('launched');
    expect(unitStates.at(-1)).toBeNull();

    // Compact etcd past `since`: asking for it again gets a reset and a snapshot.
    const status = JSON.parse((await cluster.etcdctl(['endpoint', 'status', '-w', 'json'])).stdout);
    const revision = String(status[0].Status.header.revision);
    await cluster.etcdctl(['compact', revision]);
    const resumed = stream(m1, since);
    const events = await until(
      'the reset',
      () => resumed.events,
      (e) => e.length >= 3,
    );
    expect(events[0]!.type).toBe('reset');
    expect(BigInt(events[0]!.revision)).toBeGreaterThanOrEqual(BigInt(revision));
    expect(events.slice(1).map((event) => [event.type, event.name])).toEqual(
      [m1.id, m2.id].sort().map((id) => ['machine', id]),
    );
  });

  it('leaves nothing behind', async () => {
    for (const hangUp of hangUps.splice(0)) hangUp();
    await teardown();
    expectNoLeftovers();
  });
});
