// ReconnectingBus against a private dbus-daemon that is killed and started again at the same
// address, as `systemctl restart dbus` does to the system bus.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BusClient } from '../../src/systemd/bus-client.js';
import { ReconnectingBus } from '../../src/systemd/reconnecting-bus.js';
import { DBusClosedError } from '../../src/systemd/systemd-error.js';
import { waitFor } from '../support/wait.js';
import { DAEMON, method, startDaemon, startService } from './private-bus.js';

const WANTED = "type='signal',interface='org.example.Probe',member='Wanted'";

describe.skipIf(!existsSync(DAEMON))('ReconnectingBus', () => {
  let dir: string;
  let daemon: ChildProcess;
  let service: Awaited<ReturnType<typeof startService>>;
  let bus: ReconnectingBus | undefined;
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line).msg) },
  );

  async function startBus(): Promise<void> {
    const started = await startDaemon(dir);
    daemon = started.daemon;
    process.env.DBUS_SESSION_BUS_ADDRESS = started.address;
    service = await startService(started.address);
  }

  function stopBus(): void {
    service.bus.disconnect();
    daemon.kill('SIGKILL');
  }

  /** A bus whose set-up adds one match rule, counting set-ups, statuses and signals. */
  async function open(initialMs = 50) {
    const seen = { setUps: 0, statuses: [] as boolean[], signals: 0 };
    bus = new ReconnectingBus({
      connect: () => new BusClient({ userBus: true, callTimeoutMs: 2_000, maxInFlight: 8, log }),
      log,
      backoff: { initialMs, maxMs: 200 },
    });
    bus.onStatus((connected) => seen.statuses.push(connected));
    bus.onSignal((signal) => {
      if (signal.member === 'Wanted') seen.signals += 1;
    });
    await bus.open(async (connection) => {
      await connection.addMatch(WANTED);
      seen.setUps += 1;
    });
    return seen;
  }

  beforeEach(async () => {
    lines.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'fleet-rebus-'));
    await startBus();
  });

  afterEach(() => {
    bus?.close();
    bus = undefined;
    delete process.env.DBUS_SESSION_BUS_ADDRESS;
    stopBus();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reconnects when the bus daemon comes back, sets the new connection up again and carries on', async () => {
    const seen = await open();
    expect(await bus!.call(method('Echo'))).toEqual(['echo']);
    expect(seen.statuses).toEqual([true]);

    stopBus();
    await waitFor(() => seen.statuses.length === 2, 5_000, 'the loss reported');
    expect(seen.statuses).toEqual([true, false]);
    expect(bus!.connected).toBe(false);
    await expect(bus!.call(method('Echo'))).rejects.toBeInstanceOf(DBusClosedError);
    // Attempts fail while there is no bus: the log says so, and the loop keeps trying.
    await waitFor(
      () => lines.some((line) => line.startsWith('Unable to reconnect to systemd over D-Bus: ')),
      5_000,
      'a failed attempt logged',
    );

    await startBus();
    await waitFor(() => bus!.connected, 5_000, 'reconnected');
    expect(seen.statuses).toEqual([true, false, true]);
    expect(seen.setUps).toBe(2);
    expect(await bus!.call(method('Echo'))).toEqual(['echo']);
    // The match rule came back with the set-up: signals flow on the new connection.
    service.emit('Wanted');
    await waitFor(() => seen.signals === 1, 5_000, 'a signal on the new connection');
    expect(lines).toContain('Lost the D-Bus connection to systemd; reconnecting');
    expect(lines).toContain('Reconnected to systemd over D-Bus');
  });

  it('does not count a connection whose set-up failed, and tries again', async () => {
    let failures = 1;
    bus = new ReconnectingBus({
      connect: () => new BusClient({ userBus: true, callTimeoutMs: 2_000, maxInFlight: 8, log }),
      log,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    const statuses: boolean[] = [];
    bus.onStatus((connected) => statuses.push(connected));
    await bus.open(async (connection) => {
      await connection.call(method('Echo'));
      // systemd not on the new bus yet: Subscribe fails.
      if (statuses.length > 0 && failures-- > 0) throw new Error('systemd not there yet');
    });
    stopBus();
    await startBus();
    await waitFor(() => bus!.connected, 5_000, 'reconnected');
    expect(statuses).toEqual([true, false, true]);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Unable to reconnect to systemd over D-Bus: systemd not there yet;/),
      ]),
    );
  });

  it('stops reconnecting once closed', async () => {
    const seen = await open(300);
    stopBus();
    await waitFor(() => seen.statuses.length === 2, 5_000, 'the loss reported');
    bus!.close();
    await startBus();
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(seen.setUps).toBe(1);
    expect(bus!.connected).toBe(false);
  });

  it('fails to open when there is no bus, without retrying', async () => {
    stopBus();
    const opening = open().catch((err: unknown) => err);
    expect(await opening).toBeInstanceOf(DBusClosedError);
    await startBus();
  });
});
