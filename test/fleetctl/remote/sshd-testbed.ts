import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why these tests cannot run here, or null: they start OpenSSH's sshd as root on loopback
 * ports, with keys from ssh-keygen and an ssh-agent of their own.
 */
export function sshdUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'sshd tests run as root';
  for (const tool of [SSHD, '/usr/bin/ssh-keygen', '/usr/bin/ssh-agent', '/usr/bin/ssh-add']) {
    if (!executable(tool)) return `${tool} is not installed (Debian: openssh-server)`;
  }
  return null;
}

/** A free TCP port on 127.0.0.1 (free when asked; sshd start is retried if it is taken). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when `text` appears in what a child prints on stderr; rejects if it exits first. */
function waitForOutput(child: ChildProcess, text: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} did not start: ${seen}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${what} exited (${code}): ${seen}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface SshdOptions {
  /** Key type of the host key; ECDSA is what fleet's Go client preferred. */
  hostKeyType?: 'ecdsa' | 'ed25519' | 'rsa';
  /** `SetEnv` of the sessions: how the tests give remote commands their PATH. */
  setEnv?: Record<string, string>;
  /** Extra sshd_config lines. */
  config?: string[];
}

/** One OpenSSH server on 127.0.0.1, started by a test as root. */
export class Sshd {
  private child: ChildProcess | undefined;
  /** What sshd logged on stderr (`-e`): connections, forwarding, errors. */
  log = '';

  constructor(
    private readonly dir: string,
    readonly name: string,
    private readonly authorizedKeys: string,
    readonly port: number,
    private readonly options: SshdOptions,
  ) {}

  get hostKeyPath(): string {
    return join(this.dir, `${this.name}-host-key`);
  }

  /** The host's public key line as ssh-keygen wrote it: `<type> <base64> <comment>`. */
  async publicKey(): Promise<{ type: string; base64: string }> {
    const [type = '', base64 = ''] = (await readFile(`${this.hostKeyPath}.pub`, 'utf8')).split(' ');
    return { type, base64 };
  }

  /** ssh-keygen's MD5 fingerprint of the host key, as `aa:bb:…`. */
  async md5Fingerprint(): Promise<string> {
    const { stdout } = await run('ssh-keygen', [
      '-l',
      '-E',
      'md5',
      '-f',
      `${this.hostKeyPath}.pub`,
    ]);
    return /MD5:([0-9a-f:]+)/.exec(stdout)![1]!;
  }

  /** A new host key of the same type: the machine "replaced", as in TestKnownHostsVerification. */
  async newHostKey(): Promise<void> {
    await rm(this.hostKeyPath, { force: true });
    await rm(`${this.hostKeyPath}.pub`, { force: true });
    await this.generateHostKey();
  }

  async generateHostKey(): Promise<void> {
    const type = this.options.hostKeyType ?? 'ecdsa';
    await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', this.name, '-f', this.hostKeyPath]);
  }

  async start(): Promise<void> {
    if (!existsSync(this.hostKeyPath)) await this.generateHostKey();
    const env = Object.entries(this.options.setEnv ?? {})
      .map(([name, value]) => `${name}=${value}`)
      .join(' ');
    const configPath = join(this.dir, `${this.name}-sshd_config`);
    await writeFile(
      configPath,
      [
        `Port ${this.port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${this.hostKeyPath}`,
        `AuthorizedKeysFile ${this.authorizedKeys}`,
        `PidFile ${join(this.dir, `${this.name}.pid`)}`,
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PrintMotd no',
        'PrintLastLog no',
        'UseDNS no',
        ...(env === '' ? [] : [`SetEnv ${env}`]),
        ...(this.options.config ?? []),
        '',
      ].join('\n'),
    );
    const child = spawn(SSHD, ['-D', '-e', '-f', configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (chunk: Buffer) => {
      // OpenSSH ends its log lines with CRLF.
      this.log += chunk.toString().replaceAll('\r\n', '\n');
    });
    this.child = child;
    await waitForOutput(child, 'Server listening on', `sshd ${this.name}`);
  }

  /** Waits (a few seconds at most) for sshd to log a line containing `text`. */
  async waitForLog(text: string): Promise<void> {
    for (let waited = 0; !this.log.includes(text); waited += 50) {
      if (waited > 5000) throw new Error(`sshd ${this.name} never logged ${JSON.stringify(text)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.child !== undefined) await stopChild(this.child);
    this.child = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/**
 * What the SSH tests run against: a user key in a private ssh-agent, sshd servers that
 * accept it for root, and a HOME for fleetctl's known hosts. `close()` stops every process.
 */
export class SshTestbed {
  private readonly servers: Sshd[] = [];
  private agent: ChildProcess | undefined;

  private constructor(readonly dir: string) {}

  get agentSocket(): string {
    return join(this.dir, 'agent.sock');
  }

  get home(): string {
    return join(this.dir, 'home');
  }

  get knownHosts(): string {
    return join(this.home, '.fleetctl', 'known_hosts');
  }

  private get authorizedKeys(): string {
    return join(this.dir, 'authorized_keys');
  }

  static async start(): Promise<SshTestbed> {
    // Debian's sshd wants its privilege separation directory, which systemd usually makes.
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const testbed = new SshTestbed(await mkdtemp(join(tmpdir(), 'fleetctl-ssh-')));
    try {
      await mkdir(testbed.home);
      const userKey = join(testbed.dir, 'user-key');
      await run('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        'fleetctl-test',
        '-f',
        userKey,
      ]);
      await writeFile(testbed.authorizedKeys, await readFile(`${userKey}.pub`));
      const agent = spawn('ssh-agent', ['-D', '-a', testbed.agentSocket], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      testbed.agent = agent;
      await new Promise<void>((resolve, reject) => {
        agent.stdout.once('data', () => resolve());
        agent.once('exit', (code) => reject(new Error(`ssh-agent exited (${code})`)));
      });
      await run('ssh-add', ['-q', userKey], {
        env: { ...process.env, SSH_AUTH_SOCK: testbed.agentSocket },
      });
    } catch (err) {
      await testbed.close();
      throw err;
    }
    return testbed;
  }

  /** Starts an sshd on a free port; a port taken meanwhile is retried with another. */
  async sshd(name: string, options: SshdOptions = {}): Promise<Sshd> {
    for (let attempt = 1; ; attempt++) {
      const server = new Sshd(this.dir, name, this.authorizedKeys, await freePort(), options);
      try {
        await server.start();
        this.servers.push(server);
        return server;
      } catch (err) {
        await server.stop();
        if (attempt >= 3) throw err;
      }
    }
  }

  /** An executable script in a directory of stubs, for a remote PATH. */
  async script(dir: string, name: string, body: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  }

  /** fleetctl's environment: the agent and the testbed's HOME, nothing else of the caller's. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      HOME: this.home,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SSH_AUTH_SOCK: this.agentSocket,
      ...extra,
    };
  }

  async close(): Promise<void> {
    for (const server of this.servers) await server.stop();
    if (this.agent !== undefined) await stopChild(this.agent);
    await rm(this.dir, { recursive: true, force: true });
  }
}
