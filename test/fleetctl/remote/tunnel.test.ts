import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../fake-api-server.js';
import { FakeCluster } from '../fake-cluster.js';
import { BIN, BUILT, fleetctl } from './run-fleetctl.js';
import { type Sshd, SshTestbed, sshdUnavailable } from './sshd-testbed.js';

const MACHINE = '9f8e7d6c5b4a49382716a5b4c3d2e1f0';
const UNAVAILABLE = sshdUnavailable();

/** The machines table fleetctl prints for the test cluster. */
const MACHINES_TABLE = `MACHINE\t\tIP\t\tMETADATA\n${MACHINE.slice(0, 8)}...\t127.0.0.1\tname=r1\n`;

describe.skipIf(UNAVAILABLE !== null)(
  `--tunnel through a bastion sshd${UNAVAILABLE === null ? '' : ` (skipped: ${UNAVAILABLE})`}`,
  () => {
    let bed: SshTestbed;
    let bastion: Sshd;
    let target: Sshd;
    let closedBastion: Sshd;
    let api: FakeApiServer;
    let socketApi: Server | undefined;
    let socketPath: string;
    let bastionBin: string;
    const forwardLog = () => join(bed.dir, 'fd-forward.log');

    beforeAll(async () => {
      bed = await SshTestbed.start();
      // On the bastion, `fleetctl` is this repository's built CLI, and says when it runs.
      bastionBin = join(bed.dir, 'bastion-bin');
      await bed.script(
        bastionBin,
        'fleetctl',
        `echo "$*" >> ${forwardLog()}\nexec ${process.execPath} ${BIN} "$@"`,
      );
      bastion = await bed.sshd('bastion', {
        setEnv: { PATH: `${bastionBin}:/usr/bin:/bin`, ROLE: 'bastion' },
        // sshd logs each forwarded connection at this level.
        config: ['LogLevel DEBUG1'],
      });
      // The machine's systemctl says where it ran.
      const targetBin = join(bed.dir, 'target-bin');
      await bed.script(targetBin, 'systemctl', 'echo "systemctl $* on the $ROLE"');
      target = await bed.sshd('target', {
        setEnv: { PATH: `${targetBin}:/usr/bin:/bin`, ROLE: 'target' },
      });
      closedBastion = await bed.sshd('closed-bastion', { config: ['AllowTcpForwarding no'] });
      api = await FakeApiServer.start(FakeCluster.withMachines({ [MACHINE]: 'r1' }));

      // The API on a Unix socket of the bastion, for `fleetctl fd-forward`.
      socketPath = join(bed.dir, 'fleet.sock');
      socketApi = createServer((req, res) => {
        if (req.url?.startsWith('/fleet/v1/machines') !== true) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            machines: [{ id: MACHINE, primaryIP: '127.0.0.1', metadata: { name: 'r1' } }],
          }),
        );
      });
      await new Promise<void>((resolve) => socketApi!.listen(socketPath, resolve));
    }, 60_000);

    afterAll(async () => {
      await new Promise((resolve) =>
        socketApi === undefined ? resolve(0) : socketApi.close(resolve),
      );
      await api?.close();
      await bed?.close();
    });

    const tunnel = () => ['--ssh-username', 'root', '--tunnel', `127.0.0.1:${bastion.port}`];
    const lax = ['--strict-host-key-checking=false'];

    it('reaches a machine through the bastion, checking both host keys', async () => {
      await rm(join(bed.home, '.fleetctl'), { recursive: true, force: true });
      const result = await fleetctl(
        [
          ...tunnel(),
          '--endpoint',
          api.endpoint,
          'ssh',
          '--ssh-port',
          String(target.port),
          '--machine',
          MACHINE,
          'echo "on the $ROLE"',
        ],
        // The API connection asks about the bastion, then the ssh command about both.
        { env: bed.env(), stdin: 'yes\nyes\n' },
      );
      expect(result.stdout).toBe('on the target\n');
      expect(result.exitCode).toBe(0);
      const bastionHost = `[127.0.0.1]:${bastion.port}`;
      const targetHost = `[127.0.0.1]:${target.port}`;
      expect(result.stderr).toBe(
        `The authenticity of host '${bastionHost}' can't be established.\n` +
          `ECDSA key fingerprint is ${await bastion.md5Fingerprint()}.\n` +
          'Are you sure you want to continue connecting (yes/no)? ' +
          `Warning: Permanently added '${bastionHost}' (ECDSA) to the list of known hosts.\n` +
          `The authenticity of host '${targetHost}' can't be established.\n` +
          `ECDSA key fingerprint is ${await target.md5Fingerprint()}.\n` +
          'Are you sure you want to continue connecting (yes/no)? ' +
          `Warning: Permanently added '${targetHost}' (ECDSA) to the list of known hosts.\n`,
      );
      const known = (await readFile(bed.knownHosts, 'utf8')).split('\n');
      expect(known.map((line) => line.split(' ')[0])).toEqual([bastionHost, targetHost, '']);
      await bastion.waitForLog(`originator 0.0.0.0 port 0, target 127.0.0.1 port ${target.port}\n`);
    });

    it('runs `status` on the machine through the bastion', async () => {
      const cluster = FakeCluster.withMachines({ [MACHINE]: 'r1' });
      await cluster.createUnit({
        name: 'hello.service',
        desiredState: 'launched',
        options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }],
      });
      const clusterApi = await FakeApiServer.start(cluster);
      try {
        const result = await fleetctl(
          [
            ...lax,
            ...tunnel(),
            '--endpoint',
            clusterApi.endpoint,
            'status',
            '--ssh-port',
            String(target.port),
            'hello.service',
          ],
          { env: bed.env() },
        );
        expect(result).toEqual({
          exitCode: 0,
          stdout: 'systemctl status -l hello.service on the target\n',
          stderr: '',
        });
      } finally {
        await clusterApi.close();
      }
    });

    it('reaches an http API through a direct-tcpip channel of the bastion', async () => {
      const result = await fleetctl(
        [...lax, ...tunnel(), '--endpoint', api.endpoint, 'list-machines'],
        {
          env: bed.env(),
        },
      );
      expect(result).toEqual({ exitCode: 0, stdout: MACHINES_TABLE, stderr: '' });
      const port = new URL(api.endpoint).port;
      await bastion.waitForLog(`originator 0.0.0.0 port 0, target 127.0.0.1 port ${port}\n`);
    });

    it('fails the requests when the bastion refuses to forward', async () => {
      const result = await fleetctl(
        [
          ...lax,
          '--ssh-username',
          'root',
          '--tunnel',
          `127.0.0.1:${closedBastion.port}`,
          '--endpoint',
          api.endpoint,
          'list-machines',
        ],
        { env: bed.env() },
      );
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `Error retrieving list of active machines from fleet API (Get "${api.endpoint}/fleet/v1/machines?alt=json": ssh: rejected: administratively prohibited (open failed))\n` +
          'Possible issues:\n' +
          '  etcd is unhealthy and/or lost quorum\n' +
          '  connection cannot be established to any etcd servers\n',
      );
    });

    it.skipIf(!existsSync(BUILT))(
      'reaches a Unix socket API by running `fleetctl fd-forward` on the bastion',
      async () => {
        await rm(forwardLog(), { force: true });
        const result = await fleetctl(
          [...lax, ...tunnel(), '--endpoint', `unix://${socketPath}`, 'list-machines'],
          { env: bed.env() },
        );
        expect(result).toEqual({ exitCode: 0, stdout: MACHINES_TABLE, stderr: '' });
        expect(await readFile(forwardLog(), 'utf8')).toBe(`fd-forward ${socketPath}\n`);
      },
    );

    it.skipIf(!existsSync(BUILT))(
      'reports an fd-forward that fails on the bastion as the exit of the remote process',
      async () => {
        const result = await fleetctl(
          [...lax, ...tunnel(), '--endpoint', `unix://${bed.dir}/missing.sock`, 'list-machines'],
          { env: bed.env() },
        );
        expect(result.exitCode).toBe(1);
        expect(result.stderr).toBe(
          'Error retrieving list of active machines from fleet API (Get "http://domain-sock/fleet/v1/machines?alt=json": Process exited with status 1)\n' +
            'Possible issues:\n' +
            '  etcd is unhealthy and/or lost quorum\n' +
            '  connection cannot be established to any etcd servers\n',
        );
      },
    );

    it('reports a bastion it cannot reach while building the client', async () => {
      const result = await fleetctl(
        [...lax, '--tunnel', '127.0.0.1:1', '--endpoint', api.endpoint, 'list-machines'],
        { env: bed.env() },
      );
      expect(result).toEqual({
        exitCode: 1,
        stdout: '',
        stderr:
          'Unable to initialize client: failed initializing SSH client: dial tcp 127.0.0.1:1: connect: connection refused\n',
      });
    });
  },
);
