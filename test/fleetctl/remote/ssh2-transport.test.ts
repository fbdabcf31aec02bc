import { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../../src/fleetctl/log.js';
import { Ssh2Transport } from '../../../src/fleetctl/remote/ssh2-transport.js';
import { BufferedOutput } from '../buffered-output.js';
import { type Sshd, SshTestbed, sshdUnavailable } from './sshd-testbed.js';

const UNAVAILABLE = sshdUnavailable();
const originalExec = ssh2.Client.prototype.exec;

describe.skipIf(UNAVAILABLE !== null)('the ssh2 transport against a real sshd', () => {
  let bed: SshTestbed;
  let sshd: Sshd;

  beforeAll(async () => {
    bed = await SshTestbed.start();
    sshd = await bed.sshd('machine');
  }, 60_000);

  afterEach(() => {
    ssh2.Client.prototype.exec = originalExec;
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('reports the exit status of a command that ended before fleetctl listened to its channel', async () => {
    // Under load, a quick command's status can be parsed in the same read as the channel's
    // confirmation, before the opener resumes: handing the channel over late does the same.
    ssh2.Client.prototype.exec = function (this: ssh2.Client, ...args: unknown[]) {
      const callback = args.pop() as (err: Error | undefined, channel: ssh2.ClientChannel) => void;
      return Reflect.apply(originalExec, this, [
        ...args,
        (err: Error | undefined, channel: ssh2.ClientChannel) => {
          channel.once('exit', () => setTimeout(() => callback(err, channel), 50));
        },
      ]);
    } as typeof originalExec;

    const stderr = new BufferedOutput();
    const transport = new Ssh2Transport(
      {
        user: 'root',
        address: `127.0.0.1:${sshd.port}`,
        tunnel: '',
        agentForwarding: false,
        timeoutMs: 10_000,
        strictHostKeyChecking: false,
        knownHostsFile: '',
      },
      bed.agentSocket,
      { env: bed.env(), stdin: Readable.from([]), stderr, log: new Logger(stderr, false) },
    );
    const session = await transport.connect();
    try {
      const stdout = new BufferedOutput();
      const status = await session.execute('echo done; exit 7', {
        stdin: Readable.from([]),
        stdout,
        stderr,
      });
      expect({ status, stdout: stdout.text, stderr: stderr.text }).toEqual({
        status: 7,
        stdout: 'done\n',
        stderr: '',
      });
    } finally {
      await session.close();
    }
  });
});
