import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
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

/** What the SSH transport needs from fleetctl: the agent, and a terminal for host key prompts. */
export interface SshServices {
  env: Readonly<Record<string, string | undefined>>;
  stdin: NodeJS.ReadableStream;
  stderr: Output;
  log: Logger;
}

/**
 * fleet's `SSHAgentClient`: fleet authenticates with the user's ssh-agent only, so a missing
 * agent fails before any connection is attempted, with fleet's words. Resolves with the
 * agent's socket.
 */
async function checkAgent(env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const socket = env.SSH_AUTH_SOCK ?? '';
  if (socket === '') {
    throw new Error(
      `SSH_AUTH_SOCK environment variable is not set. Verify ssh-agent is running. ${AGENT_HELP}`,
    );
  }
  await new Promise<void>((resolve, reject) => {
    const probe = createConnection(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve();
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      const reason = AGENT_ERRNO_TEXT[err.code ?? ''] ?? err.message;
      reject(new Error(`dial unix ${socket}: connect: ${reason}`));
    });
  });
  return socket;
}

const AGENT_ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  ENOTSOCK: 'socket operation on non-socket',
};

/**
 * The SSH transport: fleet's `ssh` package over ssh2, loaded at the first connection so that
 * commands which never leave this machine do not load it.
 */
export function defaultSshConnector(services: SshServices): SshConnector {
  return {
    async connect(options: SshOptions): Promise<SshSession> {
      const agentSocket = await checkAgent(services.env);
      const { Ssh2Transport } = await import('./ssh2-transport.js');
      return new Ssh2Transport(options, agentSocket, services).connect();
    },
  };
}

/** fleet's `--tunnel` defaulting: a bare host gets port 22. */
export function tunnelAddress(tunnel: string): string {
  return tunnel === '' || tunnel.includes(':') ? tunnel : `${tunnel}:22`;
}

/** Go's `net.JoinHostPort`. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
