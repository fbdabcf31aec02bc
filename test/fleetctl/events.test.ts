import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runFleetctl } from '../../src/fleetctl/run.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { type ApiFixture, startApi } from '../api/support/api-fixture.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { BufferedOutput } from './buffered-output.js';
import { FAST_TIMING, runInProcess } from './in-process.js';

// Generous bounds for a loaded two-core machine; no test asserts how fast anything is.
const EVENTUALLY = { timeout: 20_000, interval: 20 };

const service = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture | undefined;
const servers: Server[] = [];

/**
 * Stands between fleetctl and the API, and can cut every stream going through it, as a
 * fleetd restarting does, or end them as a server that is done with them would.
 */
class StreamCutter {
  private readonly open = new Set<ServerResponse>();
  readonly server: Server;
  readonly requests: string[] = [];

  constructor(private readonly target: string) {
    this.server = createServer((req, res) => this.forward(req, res));
    servers.push(this.server);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Drops every connection: fleetctl sees its stream cut. */
  cut(): void {
    for (const res of this.open) res.destroy();
  }

  /** Ends every stream properly: fleetctl sees the server end it. */
  end(): void {
    for (const res of this.open) res.end();
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(req.url ?? '');
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
    const upstream = request(`${this.target}${req.url}`, { method: req.method }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res, { end: false });
      answer.once('end', () => res.end());
    });
    res.once('close', () => upstream.destroy());
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}

/** Starts fleetctl in the background; its output can be read while it runs. */
function startFleetctl(argv: string[]) {
  const stdout = new BufferedOutput();
  const stderr = new BufferedOutput();
  const exit = runFleetctl({
    argv,
    env: {},
    cwd: process.cwd(),
    stdin: Readable.from([]),
    stdout,
    stderr,
    localMachineId: async () => null,
    timing: FAST_TIMING,
  });
  const lines = () => stdout.text.split('\n').filter((line) => line !== '');
  return { exit, stdout, stderr, lines };
}

/** A server answering every request with `status` and `body`. */
async function answering(status: number, body: string): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
});

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await api?.close();
  api = undefined;
});

afterAll(async () => {
  client?.close();
  await etcd?.stop();
});

describe('fleetctl events', () => {
  it('prints each line as it comes, resumes a cut stream with nothing lost or twice, and exits 0 when the server ends it', async () => {
    api = await startApi(client);
    const units = api.registry.units;
    await units.put('a.service', service, 'inactive');
    const cutter = new StreamCutter(api.baseUrl);
    const endpoint = await cutter.listen();
    const fleetctl = startFleetctl(['--endpoint', endpoint, 'events']);
    await vi.waitFor(() => expect(fleetctl.lines()).toHaveLength(2), EVENTUALLY);
    const [reset, submitted] = fleetctl.lines().map((line) => JSON.parse(line));
    expect(reset).toEqual({ type: 'reset', revision: expect.any(String) });
    expect(submitted).toMatchObject({ revision: reset.revision, type: 'unit', name: 'a.service' });

    await units.setDesiredState('a.service', 'loaded');
    await vi.waitFor(() => expect(fleetctl.lines()).toHaveLength(3), EVENTUALLY);
    cutter.cut();
    // Made while fleetctl is cut off: it must see them once it is back.
    await units.setDesiredState('a.service', 'launched');
    await units.destroy('a.service');
    await vi.waitFor(() => expect(fleetctl.lines()).toHaveLength(5), EVENTUALLY);
    // After the last revision seen whole: the one it was reading may have been cut short.
    // Its lines come again, and those already printed are not printed twice.
    expect(cutter.requests.at(-1)).toBe(`/fleet/ext/v1/events?since=${reset.revision}`);
    const events = fleetctl.lines().map((line) => JSON.parse(line));
    expect(events.slice(2).map((event) => event.object?.desiredState ?? null)).toEqual([
      'loaded',
      'launched',
      null,
    ]);

    cutter.end();
    expect(await fleetctl.exit).toBe(0);
    expect(fleetctl.stderr.text).toBe('');
    expect(fleetctl.lines()).toHaveLength(5);
  });

  it('resumes from --since', async () => {
    api = await startApi(client);
    await api.registry.units.put('b.service', service, 'inactive');
    const { header } = await client.get('any').exec();
    await api.registry.units.setDesiredState('b.service', 'loaded');
    const cutter = new StreamCutter(api.baseUrl);
    const fleetctl = startFleetctl([
      '--endpoint',
      await cutter.listen(),
      'events',
      `--since=${header.revision}`,
    ]);
    await vi.waitFor(() => expect(fleetctl.lines()).toHaveLength(1), EVENTUALLY);
    expect(JSON.parse(fleetctl.lines()[0]!)).toMatchObject({
      type: 'unit',
      name: 'b.service',
      object: { desiredState: 'loaded' },
    });
    cutter.end();
    expect(await fleetctl.exit).toBe(0);
  });

  it('tells a server that answers the original fleet’s 404 does not serve event streams', async () => {
    const endpoint = await answering(404, '{"error":{"code":404,"message":""}}');
    const result = await runInProcess(['--endpoint', endpoint, 'events'], { realDrivers: true });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Event streams are not supported by this server\n',
    });
  });

  it('fails with the server’s refusal', async () => {
    const endpoint = await answering(
      403,
      '{"error":{"code":403,"message":"reading needs the read role"}}',
    );
    const result = await runInProcess(['--endpoint', endpoint, 'events'], { realDrivers: true });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'Error following the event stream: googleapi: Error 403: reading needs the read role\n',
    });
  });

  it('fails at once when no server answers the first connection', async () => {
    const result = await runInProcess(['--endpoint', 'http://127.0.0.1:1', 'events'], {
      realDrivers: true,
    });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'Error following the event stream: Get "http://127.0.0.1:1/fleet/ext/v1/events": dial tcp 127.0.0.1:1: connect: connection refused\n',
    });
  });

  it('needs the API driver', async () => {
    const result = await runInProcess(
      ['--driver=etcd', `--endpoint=${etcd.endpoints.join(',')}`, 'events'],
      { realDrivers: true },
    );
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'The event stream needs the API driver (--driver=API)\n',
    });
  });

  it('refuses a --since that is no revision', async () => {
    const result = await runInProcess(['events', '--since=abc'], { realDrivers: true });
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Invalid --since abc: a revision is a positive decimal integer\n',
    });
  });
});
