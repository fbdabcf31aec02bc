import { stat } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type { Output } from '../output.js';

/** How to reach a machine over SSH, from fleetctl's global flags. */
export interface SshOptions {
  user: string;
  /** `host:port` of the machine. */
  address: string;
  /** `host:port` of a bastion to go through, or `''`. */
  tunnel: string;
  agentForwarding: boolean;
  timeoutMs: number;
  strictHostKeyChecking: boolean;
  knownHostsFile: string;
}

export interface SshStreams {
  stdin: NodeJS.ReadableStream;
  stdout: Output;
  stderr: Output;
}

/** An open SSH connection, as fleetctl uses one. */
export interface SshSession {
  /** Runs a command line remotely; resolves with its exit status. */
  execute(command: string, streams: SshStreams): Promise<number>;
  /** An interactive login shell, with a PTY when stdin is a terminal. */
  shell(streams: SshStreams): Promise<void>;
  /** A byte stream to `host:port` as seen from the remote machine (`--tunnel`). */
  dial(host: string, port: number): Promise<Duplex>;
  /** A byte stream to a Unix socket on the remote machine, via `fleetctl fd-forward`. */
  dialCommand(command: string): Promise<Duplex>;
  close(): Promise<void>;
}

export interface SshConnector {
  connect(options: SshOptions): Promise<SshSession>;
}

const AGENT_HELP =
  'See https://github.com/coreos/fleet/blob/master/Documentation/using-the-client.md for help.';

/**
 * fleet authenticates with the user's ssh-agent only, so a missing agent fails before any
 * connection is attempted, with fleet's words.
 */
async function checkAgent(env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const socket = env.SSH_AUTH_SOCK ?? '';
  if (socket === '') {
    throw new Error(
      `SSH_AUTH_SOCK environment variable is not set. Verify ssh-agent is running. ${AGENT_HELP}`,
    );
  }
  try {
    await stat(socket);
  } catch {
    throw new Error(`dial unix ${socket}: connect: no such file or directory`);
  }
}

/** The SSH package, named through a variable so that type-checking does not need it installed. */
const SSH_MODULE = 'ssh2';

/**
 * The SSH transport. The agent check is fleet's and complete; the protocol itself needs the
 * `ssh2` package, which is not a dependency yet, so reaching a remote machine fails with a
 * message saying so instead of pretending.
 */
export function defaultSshConnector(env: Readonly<Record<string, string | undefined>>) {
  return {
    async connect(_options: SshOptions): Promise<SshSession> {
      await checkAgent(env);
      try {
        await import(SSH_MODULE);
      } catch {
        throw new Error(
          'the ssh2 package is not installed, so fleetctl cannot open SSH connections yet',
        );
      }
      throw new Error('the SSH transport over ssh2 is not implemented yet');
    },
  } satisfies SshConnector;
}

/** fleet's `--tunnel` defaulting: a bare host gets port 22. */
export function tunnelAddress(tunnel: string): string {
  return tunnel === '' || tunnel.includes(':') ? tunnel : `${tunnel}:22`;
}

/** Go's `net.JoinHostPort`. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
