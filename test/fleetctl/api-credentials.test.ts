import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer } from './fake-api-server.js';
import { FakeCluster } from './fake-cluster.js';
import { runInProcess } from './in-process.js';
import { R1 } from './support.js';

const TOKEN = 'tok3n.Secret-value_42';

const dir = mkdtempSync(join(tmpdir(), 'fleetctl-credentials-'));
const file = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A CA, and a certificate it signs for `subject` with `extension` (an openssl config line). */
function makeCa(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-noenc',
    '-keyout',
    file(`${name}.key`),
    '-out',
    file(`${name}.pem`),
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
  );
}

function makeSigned(name: string, ca: string, subject: string, extension: string): void {
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-noenc',
    '-keyout',
    file(`${name}.key`),
    '-out',
    file(`${name}.csr`),
    '-subj',
    subject,
  );
  writeFileSync(file(`${name}.ext`), `${extension}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    file(`${name}.csr`),
    '-CA',
    file(`${ca}.pem`),
    '-CAkey',
    file(`${ca}.key`),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    file(`${name}.ext`),
    '-out',
    file(`${name}.pem`),
  );
}

beforeAll(() => {
  makeCa('ca');
  makeCa('other-ca');
  makeSigned('server', 'ca', '/CN=fleetd', 'subjectAltName=IP:127.0.0.1');
  makeSigned('client', 'ca', '/CN=alice', 'extendedKeyUsage=clientAuth');
  writeFileSync(file('token'), `${TOKEN}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let server: FakeApiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function cluster(): FakeCluster {
  return FakeCluster.withMachines({ [R1]: 'r1' });
}

/** An HTTPS API that verifies fleetd's certificate's chain and requires a client one. */
async function mutualTlsServer(): Promise<FakeApiServer> {
  return FakeApiServer.start(cluster(), {
    key: readFileSync(file('server.key')),
    cert: readFileSync(file('server.pem')),
    ca: readFileSync(file('ca.pem')),
    requestCert: true,
    rejectUnauthorized: true,
  });
}

const CLIENT_PAIR = ['--cert-file', file('client.pem'), '--key-file', file('client.key')];

function fleetctl(args: string[], env: Record<string, string> = {}) {
  return runInProcess(['--request-timeout', '10', ...args], { env, realDrivers: true });
}

describe('fleetctl over TLS', () => {
  it('verifies the server against --ca-file and presents its client certificate', async () => {
    server = await mutualTlsServer();
    const args = ['--endpoint', server.endpoint, '--ca-file', file('ca.pem'), ...CLIENT_PAIR];
    const result = await fleetctl([...args, 'list-machines', '--no-legend', '--full']);
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ exitCode: 0, stdout: `${R1}\t127.0.0.1\tname=r1\n` });
  });

  it('refuses a server whose certificate another CA signed, saying so', async () => {
    server = await mutualTlsServer();
    const args = ['--endpoint', server.endpoint, '--ca-file', file('other-ca.pem'), ...CLIENT_PAIR];
    const result = await fleetctl([...args, 'list-machines']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `Error retrieving list of active machines from fleet API (Get "${server.endpoint}/fleet/v1/machines?alt=json": x509: certificate signed by unknown authority)\n`,
    );
    expect(server.requests).toEqual([]);
  });

  it('verifies the server with --ca-file alone, where fleet skipped the check', async () => {
    server = await FakeApiServer.start(cluster(), {
      key: readFileSync(file('server.key')),
      cert: readFileSync(file('server.pem')),
    });
    const args = ['--endpoint', server.endpoint, 'list-machines', '--no-legend'];
    expect((await fleetctl(['--ca-file', file('ca.pem'), ...args])).exitCode).toBe(0);
    const refused = await fleetctl(['--ca-file', file('other-ca.pem'), ...args]);
    expect(refused.stderr).toContain('x509: certificate signed by unknown authority');
  });

  it('gets nothing from a server requiring a client certificate without one', async () => {
    server = await mutualTlsServer();
    const args = ['--endpoint', server.endpoint, '--ca-file', file('ca.pem'), 'list-machines'];
    const result = await fleetctl(args);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(server.requests).toEqual([]);
  });
});

describe('fleetctl bearer token', () => {
  it('sends the token from FLEETCTL_TOKEN_FILE on every request, trailing newline trimmed', async () => {
    server = await FakeApiServer.start(cluster());
    const args = ['--endpoint', server.endpoint, 'list-unit-files'];
    const result = await fleetctl(args, { FLEETCTL_TOKEN_FILE: file('token') });
    expect(result.exitCode).toBe(0);
    expect(server.requests.length).toBeGreaterThan(0);
    for (const headers of server.requests) expect(headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('takes the file from the hidden --token-file flag too, over the variable', async () => {
    writeFileSync(file('other-token'), 'other\n');
    server = await FakeApiServer.start(cluster());
    const args = ['--token-file', file('token'), '--endpoint', server.endpoint, 'list-machines'];
    await fleetctl(args, { FLEETCTL_TOKEN_FILE: file('other-token') });
    expect(server.requests.map((headers) => headers.authorization)).toEqual([`Bearer ${TOKEN}`]);
  });

  it('sends the token over TLS with a client certificate', async () => {
    server = await mutualTlsServer();
    const args = ['--endpoint', server.endpoint, '--ca-file', file('ca.pem'), ...CLIENT_PAIR];
    const result = await fleetctl([...args, '--token-file', file('token'), 'list-machines']);
    expect(result.exitCode).toBe(0);
    expect(server.requests.map((headers) => headers.authorization)).toEqual([`Bearer ${TOKEN}`]);
  });

  it('sends no Authorization header without a token file', async () => {
    server = await FakeApiServer.start(cluster());
    await fleetctl(['--endpoint', server.endpoint, 'list-machines']);
    expect(server.requests.map((headers) => headers.authorization)).toEqual([undefined]);
  });

  it('never prints the token, not even with --debug or in an error', async () => {
    server = await FakeApiServer.start(cluster());
    const result = await fleetctl(
      ['--debug', '--endpoint', server.endpoint, 'cat', 'missing.service'],
      { FLEETCTL_TOKEN_FILE: file('token') },
    );
    expect(server.requests).toHaveLength(1);
    expect(`${result.stdout}${result.stderr}`).not.toContain(TOKEN);
  });

  it.each([
    {
      case: 'a missing file',
      write: () => file('absent'),
      error: 'absent: no such file or directory',
    },
    {
      case: 'a directory',
      write: () => dir,
      error: `read ${dir}: is a directory`,
    },
    {
      case: 'an empty file',
      write: () => {
        writeFileSync(file('empty'), '\n \n');
        return file('empty');
      },
      error: 'is empty',
    },
    {
      case: 'two lines',
      write: () => {
        writeFileSync(file('two-lines'), `${TOKEN}\n${TOKEN}\n`);
        return file('two-lines');
      },
      error: 'does not hold one bearer token on a single line',
    },
  ])('refuses $case before any request, exit 1', async ({ write, error }) => {
    const path = write();
    server = await FakeApiServer.start(cluster());
    const result = await fleetctl(['--endpoint', server.endpoint, 'list-machines'], {
      FLEETCTL_TOKEN_FILE: path,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^Unable to initialize client: token file/);
    expect(result.stderr).toContain(error);
    expect(result.stderr).not.toContain(TOKEN);
    expect(server.requests).toEqual([]);
  });

  it('warns that the etcd driver ignores the token file', async () => {
    const result = await runInProcess(['--driver', 'etcd', 'list-machines', '--no-legend'], {
      cluster: cluster(),
      env: { FLEETCTL_TOKEN_FILE: file('token') },
    });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(
      /WARN create-client\.ts: the token file applies to the API driver only; the etcd driver ignores it\n$/,
    );
  });

  it('is listed in no help output', async () => {
    for (const argv of [['help'], ['--help'], ['help', 'list-units'], ['start', '-h']]) {
      const result = await runInProcess(argv);
      expect(`${result.stdout}${result.stderr}`).not.toMatch(/token/i);
    }
  });
});
