import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer, type FakeUnitOutput } from './fake-api-server.js';
import { FakeCluster } from './fake-cluster.js';
import { runInProcess } from './in-process.js';
import { R1, R2, R3, RecordingSsh, unitDirectory } from './support.js';

const HELLO = '[Service]\nExecStart=/bin/sleep 1000\n';
const GLOBAL = '[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\nGlobal=true\n';
const NO_AGENT =
  'Unable to SSH to remote host: SSH_AUTH_SOCK environment variable is not set. Verify ssh-agent is running. See https://github.com/coreos/fleet/blob/master/Documentation/using-the-client.md for help.\n';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** Machines with addresses of their own, so an SSH connection shows where it went. */
function cluster(): FakeCluster {
  return new FakeCluster([
    { id: R1, metadata: { name: 'r1' }, primaryIP: '10.0.0.1' },
    { id: R2, metadata: { name: 'r2' }, primaryIP: '10.0.0.2' },
    { id: R3, metadata: { name: 'r3' }, primaryIP: '10.0.0.3' },
  ]);
}

/** Answers every status or journal request with these NDJSON lines, recording the URL. */
function answering(lines: string[], seen: string[]): FakeUnitOutput {
  return (_request, req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    res.end(lines.map((line) => `${line}\n`).join(''));
  };
}

let server: FakeApiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** hello.service started (on r1) and global.service started, behind an API serving `output`. */
async function started(output?: FakeUnitOutput): Promise<FakeCluster> {
  const fake = cluster();
  const cwd = await unitDirectory({ 'hello.service': HELLO, 'global.service': GLOBAL });
  await runInProcess(['start', 'hello.service', 'global.service'], { cluster: fake, cwd });
  server = await FakeApiServer.start(fake, undefined, output);
  return fake;
}

/** fleetctl on r2, no ssh-agent, through the real HTTP driver. */
function fleetctl(args: string[], opts: { env?: Record<string, string>; ssh?: RecordingSsh } = {}) {
  return runInProcess(['--endpoint', server!.endpoint, ...args], {
    realDrivers: true,
    localMachineId: R2,
    env: opts.env ?? {},
    ...(opts.ssh !== undefined && { ssh: opts.ssh }),
  });
}

describe('status and journal through fleet, with no SSH set up', () => {
  it('status prints what fleet streams, stdout and stderr apart, with its exit status', async () => {
    const seen: string[] = [];
    await started(
      answering(
        [
          JSON.stringify({ stdout: b64('● hello.service\n   Active: active (running)\n') }),
          JSON.stringify({ stderr: b64('Warning: journal has been rotated\n') }),
          JSON.stringify({ exit: 3 }),
        ],
        seen,
      ),
    );
    const ssh = new RecordingSsh();
    const result = await fleetctl(['status', 'hello.service'], { ssh });
    expect(result).toEqual({
      exitCode: 3,
      stdout: '● hello.service\n   Active: active (running)\n',
      stderr: 'Warning: journal has been rotated\n',
    });
    expect(seen).toEqual(['/fleet/ext/v1/units/hello.service/status']);
    expect(ssh.connections).toEqual([]);
  });

  it("journal asks for fleetctl's lines, output and follow; --sudo changes nothing", async () => {
    const seen: string[] = [];
    await started(answering([JSON.stringify({ stdout: b64('a line\n') }), '{"exit":0}'], seen));
    const result = await fleetctl([
      'journal',
      '--lines=3',
      '--output=cat',
      '--sudo',
      '--follow',
      'hello',
    ]);
    expect(result).toEqual({ exitCode: 0, stdout: 'a line\n', stderr: '' });
    const plain = await fleetctl(['journal', 'hello.service']);
    expect(plain.exitCode).toBe(0);
    expect(seen).toEqual([
      '/fleet/ext/v1/units/hello.service/journal?lines=3&output=cat&follow=true',
      '/fleet/ext/v1/units/hello.service/journal?lines=10&output=short',
    ]);
  });

  it('keeps the SSH path when an ssh-agent is there', async () => {
    const seen: string[] = [];
    await started(answering(['{"exit":0}'], seen));
    const ssh = new RecordingSsh(4);
    const result = await fleetctl(['status', 'hello.service'], {
      ssh,
      env: { SSH_AUTH_SOCK: '/tmp/agent.sock' },
    });
    expect(result.exitCode).toBe(4);
    expect(ssh.executed).toEqual(['systemctl "status" "-l" "hello.service"']);
    expect(ssh.connections[0]?.address).toBe('10.0.0.1:22');
    expect(seen).toEqual([]);
  });

  it("makes the original's SSH attempt when the server answers the original's 404", async () => {
    await started();
    for (const args of [
      ['status', 'hello.service'],
      ['journal', 'hello.service'],
    ]) {
      expect(await fleetctl(args)).toEqual({ exitCode: 255, stdout: '', stderr: NO_AGENT });
    }
  });

  it('fails as a broken remote command when the stream is cut before its exit line', async () => {
    await started(answering([JSON.stringify({ stdout: b64('half\n') })], []));
    expect(await fleetctl(['journal', 'hello.service'])).toEqual({
      exitCode: 255,
      stdout: 'half\n',
      stderr:
        'Error running remote command: the stream from fleet ended before the exit status of the command\n',
    });
  });

  it("prints fleet's message for any other refusal and exits 1", async () => {
    const message = 'reading the status or journal of unit "hello.service" needs the operate role';
    await started((_request, _req, res) => {
      res.writeHead(403, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 403, message } }));
    });
    expect(await fleetctl(['status', 'hello.service'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `${message}\n`,
    });
  });
});

describe('--machine for a global unit', () => {
  it('status of a global unit without --machine still prints nothing and asks nobody', async () => {
    const seen: string[] = [];
    await started(answering(['{"exit":0}'], seen));
    expect(await fleetctl(['status', 'global.service'])).toEqual({
      exitCode: 0,
      stdout: '',
      stderr: '',
    });
    expect(seen).toEqual([]);
  });

  it('addresses the machine a unique ID prefix names, through fleet', async () => {
    const seen: string[] = [];
    await started(answering([JSON.stringify({ stdout: b64('on r3\n') }), '{"exit":0}'], seen));
    const journal = await fleetctl(['journal', `--machine=${R3.slice(0, 6)}`, 'global.service']);
    expect(journal).toEqual({ exitCode: 0, stdout: 'on r3\n', stderr: '' });
    const status = await fleetctl(['status', '--machine', R3, 'global.service']);
    expect(status.exitCode).toBe(0);
    expect(seen).toEqual([
      `/fleet/ext/v1/units/global.service/journal?lines=10&output=short&machine=${R3}`,
      `/fleet/ext/v1/units/global.service/status?machine=${R3}`,
    ]);
  });

  it("goes to that machine's address on the SSH path", async () => {
    await started();
    const ssh = new RecordingSsh();
    const result = await fleetctl(['status', '--machine', R3, 'global.service'], {
      ssh,
      env: { SSH_AUTH_SOCK: '/tmp/agent.sock' },
    });
    expect(result.exitCode).toBe(0);
    expect(ssh.connections.map((c) => c.address)).toEqual(['10.0.0.3:22']);
  });

  it('refuses a prefix that names no machine, and a machine the unit is not on', async () => {
    const seen: string[] = [];
    await started(answering(['{"exit":0}'], seen));
    expect(await fleetctl(['journal', '--machine=f', 'global.service'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Unable to proceed: machine does not exist\n',
    });
    expect(await fleetctl(['status', `--machine=${R2}`, 'hello.service'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `Unit hello.service is not on machine ${R2}.\n`,
    });
    expect(seen).toEqual([]);
  });
});
