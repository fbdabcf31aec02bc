import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { issue, makeCa } from '../../harness/certificates.js';
import { apiListeners, describeListener } from '../../src/api/listeners.js';
import { serveApi } from '../../src/api/serve.js';
import {
  SocketActivationError,
  socketActivationListeners,
} from '../../src/api/socket-activation.js';
import { sendRaw } from './support/raw-http.js';

const silent = pino({ level: 'silent' });

describe('socketActivationListeners', () => {
  it('returns the passed descriptors from 3 and removes the variables', () => {
    const env = { LISTEN_PID: '4242', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b', PATH: '/bin' };
    expect(socketActivationListeners(env, 4242)).toEqual([{ fd: 3 }, { fd: 4 }]);
    expect(env).toEqual({ PATH: '/bin' });
  });

  it('ignores descriptors meant for another process, still removing the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '1', LISTEN_FDS: '1' };
    expect(socketActivationListeners(env, 4242)).toEqual([]);
    expect(env).toEqual({});
  });

  it('finds nothing without LISTEN_PID or LISTEN_FDS', () => {
    expect(socketActivationListeners({}, 4242)).toEqual([]);
    expect(socketActivationListeners({ LISTEN_PID: '4242' }, 4242)).toEqual([]);
  });

  it.each([
    [{ LISTEN_PID: 'x', LISTEN_FDS: '1' }],
    [{ LISTEN_PID: '4242', LISTEN_FDS: '0' }],
    [{ LISTEN_PID: '4242', LISTEN_FDS: 'two' }],
  ])('refuses malformed variables %j', (env) => {
    expect(() => socketActivationListeners(env, 4242)).toThrow(SocketActivationError);
  });
});

describe('apiListeners', () => {
  it('prefers activated sockets to api_listen', () => {
    const env = { LISTEN_PID: String(process.pid), LISTEN_FDS: '1' };
    expect(apiListeners('/run/fleet.sock', env)).toEqual([{ fd: 3 }]);
  });

  it.each([
    ['', []],
    ['/var/run/fleet.sock', [{ path: '/var/run/fleet.sock' }]],
    ['127.0.0.1:49153', [{ host: '127.0.0.1', port: 49153 }]],
    [':49153', [{ host: '', port: 49153 }]],
    ['[::1]:49153', [{ host: '::1', port: 49153 }]],
  ])('reads api_listen %j', (apiListen, expected) => {
    expect(apiListeners(apiListen, {})).toEqual(expected);
  });

  it('describes listeners as Go printed addresses', () => {
    expect(describeListener({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(describeListener({ path: '/run/x.sock' })).toBe('/run/x.sock');
  });
});

describe('serving an activated socket', () => {
  let child: ChildProcess | undefined;
  let systemdSocket: Server | undefined;
  let directory: string | undefined;

  afterEach(async () => {
    child?.stdin?.end();
    if (child !== undefined && child.exitCode === null) {
      await new Promise((resolve) => child?.once('exit', resolve));
    }
    systemdSocket?.close();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
    directory = undefined;
  });

  /** Listens as systemd would, then starts the stand-in fleetd with the socket as its fd 3. */
  async function activate(
    listen: { host: string; port: number } | { path: string },
    env: NodeJS.ProcessEnv = {},
  ): Promise<Record<string, unknown>> {
    systemdSocket = await new Promise<Server>((resolve) => {
      const server = createServer();
      server.listen(listen, () => resolve(server));
    });
    const fd = (systemdSocket as unknown as { _handle: { fd: number } })._handle.fd;
    const support = (name: string) => fileURLToPath(new URL(`./support/${name}`, import.meta.url));
    // As systemd does: LISTEN_PID is the pid of the process that gets the socket (sh execs node).
    child = spawn(
      '/bin/sh',
      [
        '-c',
        'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" --import "$1" "$2"',
        process.execPath,
        support('ts-register.mjs'),
        support('activated-server.ts'),
      ],
      { stdio: ['pipe', 'pipe', 'inherit', fd], env: { ...process.env, ...env } },
    );
    // Only the child may accept from now on.
    systemdSocket.close();
    systemdSocket = undefined;

    const report = await new Promise<string>((resolve, reject) => {
      let out = '';
      child?.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out);
      });
      child?.once('exit', (code) => reject(new Error(`child exited with ${code}: ${out}`)));
    });
    return JSON.parse(report) as Record<string, unknown>;
  }

  const UNAVAILABLE =
    '{"error":{"code":503,"message":"fleet server unable to communicate with etcd"}}';

  it('serves the API on the descriptor systemd passes, as fd 3 of the process named by LISTEN_PID', async () => {
    const report = await activate({ host: '127.0.0.1', port: 0 });
    const port = Number(String((report.addresses as string[])[0]).split(':')[1]);
    expect(report).toEqual({
      listeners: [{ fd: 3 }],
      addresses: [`127.0.0.1:${port}`],
      served: [{ transport: 'tcp', tls: false, address: `127.0.0.1:${port}` }],
      env: [],
    });
    const response = await sendRaw(`http://127.0.0.1:${port}`, {
      method: 'GET',
      path: '/fleet/v1/units',
    });
    expect([response.status, response.body]).toEqual([503, UNAVAILABLE]);
  }, 30_000);

  it('takes a passed unix socket for one, known by its descriptor', async () => {
    directory = await mkdtemp(join(tmpdir(), 'fleet-api-'));
    const path = join(directory, 'fleet.sock');
    const report = await activate({ path });
    // Closing our copy removed the path, as a stopped fleet.socket would: the report is the test.
    expect(report.served).toEqual([{ transport: 'unix', path: 'fd 3' }]);
  }, 30_000);

  it('serves TLS, and only TLS, on a passed TCP socket when given a certificate', async () => {
    directory = await mkdtemp(join(tmpdir(), 'fleet-api-'));
    const ca = makeCa(directory, 'ca');
    const pair = issue(ca, 'fleetd', { subject: '/CN=fleetd', altNames: ['IP:127.0.0.1'] });
    const report = await activate(
      { host: '127.0.0.1', port: 0 },
      { ACTIVATED_TLS_CERT: pair.cert, ACTIVATED_TLS_KEY: pair.key },
    );
    const address = String((report.addresses as string[])[0]);
    expect(report.served).toEqual([{ transport: 'tcp', tls: true, address }]);
    const port = Number(address.split(':')[1]);
    const secure = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/fleet/v1/units',
          ca: readFileSync(ca.cert),
          agent: false,
        },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => {
            body += chunk.toString();
          });
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(secure).toBe(`503 ${UNAVAILABLE}`);
    const plain = await sendRaw(`http://127.0.0.1:${port}`, {
      method: 'GET',
      path: '/fleet/v1/units',
    });
    expect(plain.status).not.toBe(503);
  }, 30_000);
});

describe('serving a unix socket path', () => {
  let directory: string;

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('takes over a socket file nobody answers on, and removes it when stopped', async () => {
    directory = await mkdtemp(join(tmpdir(), 'fleet-api-'));
    const path = join(directory, 'fleet.sock');
    // A socket bound and abandoned, as a killed fleetd leaves it.
    execFileSync('python3', [
      '-c',
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`,
    ]);
    expect(existsSync(path)).toBe(true);
    const server = await serveApi((_req, res) => res.end('ok'), [{ path }], silent);
    expect(server.addresses).toEqual([path]);
    expect((await sendRaw(`unix://${path}`, { method: 'GET', path: '/' })).body).toBe('ok');
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a socket another server answers on, logging the listener', async () => {
    directory = await mkdtemp(join(tmpdir(), 'fleet-api-'));
    const path = join(directory, 'fleet.sock');
    const other = await new Promise<Server>((resolve) => {
      const server = createServer();
      server.listen({ path }, () => resolve(server));
    });
    const logged: string[] = [];
    const log = pino(
      { level: 'error' },
      { write: (line: string) => logged.push(JSON.parse(line).msg) },
    );
    try {
      await expect(serveApi((_req, res) => res.end(), [{ path }], log)).rejects.toThrow(
        /EADDRINUSE/,
      );
      expect(logged).toEqual([`Failed serving HTTP on listener: ${path}`]);
    } finally {
      other.close();
    }
  });
});
