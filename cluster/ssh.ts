// SSH on cluster machines (opt-in, `ssh` in ClusterOptions): each machine runs its own sshd
// with its own host keys and a `core` user (uid and gid 500, as fleet's harness) that takes the keys it
// is given and has passwordless sudo; plus the test side's ssh-agent. See docs/cluster.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execOk, type Machine, REPO_ROOT, writeMachineFile } from '../harness/index.js';
import { run } from '../harness/proc.js';

export interface SshOptions {
  /** Public key lines (`<type> <base64> [comment]`) authorised for `core` on every machine. */
  authorizedKeys?: readonly string[];
}

export const SSH_USER = 'core';
export const SSH_UID = 500;

/**
 * Inside a machine (whose /etc is its own overlay copy of the host's): fresh host keys, the
 * `core` user with the authorised keys and passwordless sudo, a `fleetctl` on PATH (for
 * `--tunnel`'s `fd-forward`), logins allowed (systemd-user-sessions), and ssh.service enabled and
 * started on port 22.
 */
export async function installSsh(host: Machine, authorizedKeys: readonly string[]): Promise<void> {
  await execOk(host, [
    '/bin/sh',
    '-euc',
    [
      // The host's keys are seen through the overlay: every machine needs keys of its own.
      'rm -f /etc/ssh/ssh_host_*',
      'ssh-keygen -A',
      `getent group ${SSH_USER} >/dev/null || groupadd --gid ${SSH_UID} ${SSH_USER}`,
      `getent passwd ${SSH_USER} >/dev/null || useradd --uid ${SSH_UID} --gid ${SSH_USER} --create-home --home-dir /home/${SSH_USER} --shell /bin/bash ${SSH_USER}`,
      // sudo looks its host name up: without this it waits ~20 s on DNS nobody answers.
      `grep -qw "$(hostname)" /etc/hosts || printf '127.0.1.1\\t%s\\n' "$(hostname)" >>/etc/hosts`,
      `install -d -m 0700 -o ${SSH_USER} -g ${SSH_USER} /home/${SSH_USER}/.ssh`,
    ].join('\n'),
  ]);
  await setAuthorizedKeys(host, authorizedKeys);
  await writeMachineFile(
    host,
    '/etc/sudoers.d/90-fleet-cluster',
    `${SSH_USER} ALL=(ALL) NOPASSWD: ALL\n`,
    '0440',
  );
  await writeMachineFile(
    host,
    '/usr/local/bin/fleetctl',
    `#!/bin/sh\nexec ${process.execPath} ${join(REPO_ROOT, 'bin', 'fleetctl')} "$@"\n`,
    '0755',
  );
  await execOk(host, ['systemctl', 'unmask', 'ssh.service', 'ssh.socket']);
  // The machine boots a target short of multi-user.target, so nothing removes /run/nologin
  // (systemd-tmpfiles writes it at boot) and pam_nologin would refuse `core`.
  await execOk(host, ['systemctl', 'start', 'systemd-user-sessions.service']);
  await execOk(host, ['systemctl', 'enable', '--now', 'ssh.service'], { timeoutMs: 60_000 });
}

/** Replaces `core`'s authorized_keys. */
export async function setAuthorizedKeys(host: Machine, keys: readonly string[]): Promise<void> {
  const path = `/home/${SSH_USER}/.ssh/authorized_keys`;
  await writeMachineFile(host, path, keys.map((k) => `${k.trim()}\n`).join(''), '0600');
  await execOk(host, ['chown', `${SSH_USER}:${SSH_USER}`, path]);
}

/** New host keys for a machine and an sshd restarted on them: its identity has changed. */
export async function regenerateHostKeys(host: Machine): Promise<void> {
  await execOk(host, ['/bin/sh', '-euc', 'rm -f /etc/ssh/ssh_host_*\nssh-keygen -A']);
  await execOk(host, ['systemctl', 'restart', 'ssh.service'], { timeoutMs: 60_000 });
}

/**
 * An ssh-agent of the test's own holding a fresh Ed25519 key; `env` is what fleetctl needs
 * (`SSH_AUTH_SOCK`). It runs as `ssh-agent -a <socket> sh -c '...; exec cat'`: ssh-agent forks
 * itself off a `cat` reading a pipe from this process, and exits once that `cat` is gone, so it
 * dies with this process even if stop() never runs (within ssh-agent's 10 s parent check).
 * stop() kills it by its PID (`SSH_AGENT_PID`, which the shell prints).
 */
export class SshAgent {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    /** The private key's file (its public half is `publicKey`). */
    readonly keyPath: string,
    readonly publicKey: string,
    /** PID of the agent itself. */
    readonly pid: number,
    private readonly holder: ChildProcess,
  ) {}

  static async start(): Promise<SshAgent> {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-cluster-ssh-'));
    const key = join(dir, 'id_ed25519');
    const socket = join(dir, 'agent.sock');
    const holder = spawn(
      'ssh-agent',
      ['-a', socket, '/bin/sh', '-c', 'echo "$SSH_AGENT_PID"; exec cat >/dev/null'],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    holder.on('error', () => {});
    holder.stdin?.on('error', () => {});
    let agent: SshAgent | undefined;
    try {
      await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'fleet-cluster', '-f', key]);
      const pid = await firstLine(holder);
      agent = new SshAgent(
        dir,
        socket,
        key,
        (await readFile(`${key}.pub`, 'utf8')).trim(),
        pid,
        holder,
      );
      const deadline = Date.now() + 10_000;
      while (!existsSync(socket)) {
        if (Date.now() > deadline) throw new Error('ssh-agent did not start');
        await new Promise((r) => setTimeout(r, 20));
      }
      const added = await run(['ssh-add', key], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      if (added.code !== 0) throw new Error(`ssh-add failed: ${added.stderr}`);
      return agent;
    } catch (e) {
      if (agent !== undefined) await agent.stop();
      else {
        holder.kill('SIGTERM');
        await rm(dir, { recursive: true, force: true });
      }
      throw e;
    }
  }

  /** Whether the agent process lives (a zombie does not count). */
  get running(): boolean {
    return processRunning(this.pid);
  }

  get env(): Record<string, string> {
    return { SSH_AUTH_SOCK: this.socket };
  }

  /** Kills the agent (by its PID) and its holder, and removes its directory. */
  async stop(): Promise<void> {
    if (this.running) process.kill(this.pid, 'SIGTERM');
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      await new Promise<void>((resolve) => {
        this.holder.once('exit', () => resolve());
        this.holder.stdin?.end();
      });
    }
    const deadline = Date.now() + 10_000;
    while (this.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await rm(this.dir, { recursive: true, force: true });
    if (this.running) throw new Error(`ssh-agent ${this.pid} did not exit`);
  }
}

/** Whether a process exists and is not a zombie. */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The PID the holder's shell prints first. */
function firstLine(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error('ssh-agent did not start')), 10_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const nl = seen.indexOf('\n');
      if (nl >= 0) {
        const pid = Number(seen.slice(0, nl));
        done(Number.isInteger(pid) && pid > 0 ? undefined : new Error(`ssh-agent: ${seen}`), pid);
      }
    };
    const onExit = () => done(new Error(`ssh-agent exited: ${seen}`));
    const done = (e: Error | undefined, pid = 0) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (e === undefined) resolve(pid);
      else reject(e);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}
