// BusClient against a private dbus-daemon of the test's own: deadlines, error replies,
// bounded calls in flight, match rules and a bus that goes away.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Message, MessageType, sessionBus } from 'dbus-next';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BusClient } from '../../src/systemd/bus-client.js';
import { ownerMatchRule, SignalSender } from '../../src/systemd/signal-sender.js';
import {
  DBusClosedError,
  DBusTimeoutError,
  SystemdError,
} from '../../src/systemd/systemd-error.js';
import { DAEMON, method, SERVICE, startDaemon, startService } from './private-bus.js';

const log = pino({ level: 'silent' });

describe.skipIf(!existsSync(DAEMON))('BusClient', () => {
  let dir: string;
  let daemon: ChildProcess;
  let address: string;
  let service: Awaited<ReturnType<typeof startService>>;
  let client: BusClient;

  function connect(callTimeoutMs = 2_000, maxInFlight = 8): BusClient {
    client = new BusClient({ userBus: true, callTimeoutMs, maxInFlight, log });
    return client;
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-bus-'));
    const started = await startDaemon(dir);
    daemon = started.daemon;
    address = started.address;
    process.env.DBUS_SESSION_BUS_ADDRESS = started.address;
    service = await startService(started.address);
  });

  afterEach(() => {
    delete process.env.DBUS_SESSION_BUS_ADDRESS;
    client?.close();
    service.bus.disconnect();
    daemon.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves with the reply body', async () => {
    expect(await connect().call(method('Echo'))).toEqual(['echo']);
  });

  it("turns an error reply into a SystemdError carrying the sender's text", async () => {
    const err = await connect()
      .call(method('Fail'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SystemdError);
    expect((err as SystemdError).message).toBe('Unit x not loaded.');
    expect((err as SystemdError).dbusName).toBe('org.example.Error.Nope');
  });

  it('rejects a reply whose signature is not the expected one', async () => {
    await expect(connect().call(method('Wrong'))).rejects.toThrow(
      'D-Bus call org.example.Probe.Wrong answered with signature "u", expected "s"',
    );
  });

  it('gives up on an unanswered call at its deadline, naming the call', async () => {
    const started = Date.now();
    const err = await connect(300)
      .call(method('Hold'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DBusTimeoutError);
    expect((err as Error).message).toBe('D-Bus call org.example.Probe.Hold timed out after 300ms');
    expect(Date.now() - started).toBeLessThan(2_000);
    // The late reply is dropped quietly and the connection keeps working.
    service.release();
    expect(await client.call(method('Echo'))).toEqual(['echo']);
  });

  it('keeps at most maxInFlight calls outstanding and sends the rest as slots free', async () => {
    connect(5_000, 3);
    const calls = Array.from({ length: 10 }, () => client.call(method('Hold')));
    await new Promise((r) => setTimeout(r, 200));
    expect(service.held.length).toBe(3);
    while (service.held.length > 0) {
      service.release();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await Promise.all(calls)).toEqual(Array(10).fill(['held']));
    expect(service.maxHeld).toBe(3);
  });

  it('never sends a call whose deadline passed while it waited for a slot', async () => {
    connect(300, 1);
    const first = client.call(method('Hold')).catch((e: unknown) => e);
    const second = client.call(method('Hold')).catch((e: unknown) => e);
    expect(await first).toBeInstanceOf(DBusTimeoutError);
    expect(await second).toBeInstanceOf(DBusTimeoutError);
    service.release(); // frees the slot the first call held
    await new Promise((r) => setTimeout(r, 200));
    expect(service.held.length).toBe(0);
  });

  it('delivers the signals its match rules select, and only those', async () => {
    connect();
    const seen: string[] = [];
    client.onSignal((s) => seen.push(`${s.interface}.${s.member}`));
    await client.addMatch("type='signal',interface='org.example.Probe',member='Wanted'");
    service.emit('Unwanted');
    service.emit('Wanted');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((s) => s.startsWith('org.example'))).toEqual(['org.example.Probe.Wanted']);
  });

  it('names the unique name owning a well-known name, and none for a name nobody owns', async () => {
    connect();
    // dbus-next sets `name` to the connection's unique name; its types.d.ts omits it.
    const unique = (service.bus as unknown as { name: string }).name;
    expect(unique).toMatch(/^:\d+\.\d+$/);
    expect(await client.nameOwner(SERVICE)).toBe(unique);
    expect(await client.nameOwner('org.example.Nobody')).toBeNull();
  });

  it("tells the owner's signals from an impostor's, and follows the name to its next owner", async () => {
    connect();
    const sender = new SignalSender(SERVICE);
    const seen: string[] = [];
    client.onSignal((signal) => {
      const verdict = sender.judge(signal);
      if (signal.interface === 'org.example.Probe') seen.push(`${signal.member}: ${verdict}`);
    });
    await client.addMatch(ownerMatchRule(SERVICE));
    sender.ownedBy(await client.nameOwner(SERVICE));
    await client.addMatch("type='signal',interface='org.example.Probe'");
    const impostor = sessionBus({ busAddress: address });
    try {
      await new Promise((resolve) => impostor.once('connect', resolve));
      impostor.send(
        Message.newSignal('/org/example/Probe', 'org.example.Probe', 'Forged', 's', ['x']),
      );
      service.emit('Genuine');
      await new Promise((r) => setTimeout(r, 200));
      // The service goes and another takes its name, as systemd does when it re-executes.
      service.bus.disconnect();
      service = await startService(address);
      service.emit('FromTheNextOwner');
      impostor.send(
        Message.newSignal('/org/example/Probe', 'org.example.Probe', 'Forged', 's', ['x']),
      );
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      impostor.disconnect();
    }
    expect(seen.sort()).toEqual([
      'Forged: stranger',
      'Forged: stranger',
      'FromTheNextOwner: owner',
      'Genuine: owner',
    ]);
  });

  it("relies on dbus-next's runtime message types, which its types.d.ts numbers wrongly", () => {
    // types.d.ts declares a plain enum (SIGNAL = 3); the library sends and compares 4.
    expect(MessageType.SIGNAL).toBe(4);
  });

  it('fails calls at once when there is no bus at the address', async () => {
    process.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${dir}/nothing-here`;
    const started = Date.now();
    await expect(connect(10_000).call(method('Echo'))).rejects.toBeInstanceOf(DBusClosedError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fails pending and later calls at once when the bus goes away', async () => {
    connect(10_000);
    await client.call(method('Echo'));
    const pending = client.call(method('Hold')).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    daemon.kill('SIGKILL');
    const err = await pending;
    expect(err).toBeInstanceOf(DBusClosedError);
    expect((err as Error).message).toBe(
      'D-Bus connection closed: org.example.Probe.Hold cannot be answered',
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(client.call(method('Echo'))).rejects.toBeInstanceOf(DBusClosedError);
  });
});
