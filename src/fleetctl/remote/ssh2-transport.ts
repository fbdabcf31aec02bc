import { lookup } from 'node:dns/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { ReadStream } from 'node:tty';
import ssh2, {
  type ClientChannel,
  type ConnectConfig,
  type PseudoTtyOptions,
  type Client as Ssh2Client,
} from 'ssh2';
import { errorMessage } from '../../error-message.js';
import { ChannelSocket } from './channel-socket.js';
import { exitOnClose, exitStatus, type RemoteExit } from './exit-status.js';
import { HostKeyChecker, splitHostPort, type Verdict } from './known-hosts.js';
import {
  joinHostPort,
  type SshOptions,
  type SshServices,
  type SshSession,
  type SshStreams,
} from './ssh.js';

export const SETUP_TIMEOUT = 'timed out while initiating SSH connection';

/**
 * The host key algorithms offered when the known hosts say nothing about a host: Go's SSH
 * library's order in fleet's time (ECDSA, then RSA, DSA, Ed25519), so the same key is
 * recorded. RSA keys are also offered with the SHA-2 signatures current servers require.
 */
const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
  'ssh-dss',
  'ssh-ed25519',
] as const;

type HostKeyAlgorithm = (typeof DEFAULT_HOST_KEY_ALGORITHMS)[number];

/** The signature algorithms that let a server prove a key of each type. */
function algorithmsForKeyType(type: string): HostKeyAlgorithm[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return DEFAULT_HOST_KEY_ALGORITHMS.filter((algorithm) => algorithm === type);
}

/** fleet's `HostKeyAlgorithms`: the types the known hosts record for the host, else all. */
function hostKeyAlgorithms(knownTypes: readonly string[]): HostKeyAlgorithm[] {
  const algorithms = [...new Set(knownTypes.flatMap(algorithmsForKeyType))];
  return algorithms.length > 0 ? algorithms : [...DEFAULT_HOST_KEY_ALGORITHMS];
}

/** A clock for connection setup that stops while the user reads a host key prompt. */
interface SetupClock {
  pause(): void;
  resume(): void;
}

/**
 * fleet's `timeoutSSHDial`: one step of connection setup, given `--ssh-timeout` to finish.
 * Whatever the step has opened when time runs out is closed by `abandon`.
 */
function withSetupTimeout<T>(
  timeoutMs: number,
  step: (clock: SetupClock) => Promise<T>,
  abandon: (late?: T) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let remaining = timeoutMs;
    let startedAt = 0;
    let timer: NodeJS.Timeout | undefined;
    const expire = () => {
      settled = true;
      timer = undefined;
      abandon();
      reject(new Error(SETUP_TIMEOUT));
    };
    const clock: SetupClock = {
      pause() {
        if (timer === undefined) return;
        clearTimeout(timer);
        timer = undefined;
        remaining -= Date.now() - startedAt;
      },
      resume() {
        if (settled || timer !== undefined) return;
        startedAt = Date.now();
        timer = setTimeout(expire, Math.max(0, remaining));
      },
    };
    clock.resume();
    step(clock).then(
      (value) => {
        if (settled) {
          abandon(value);
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ETIMEDOUT: 'connection timed out',
  ENETUNREACH: 'network is unreachable',
  EHOSTUNREACH: 'no route to host',
  EADDRNOTAVAIL: 'cannot assign requested address',
};

export function errnoText(err: NodeJS.ErrnoException): string {
  return (err.code !== undefined ? ERRNO_TEXT[err.code] : undefined) ?? err.message;
}

/** Go's `net.ResolveTCPAddr`: a host name is looked up here, an IP kept as it is. */
async function resolveAddress(address: string): Promise<[ip: string, port: number]> {
  const split = splitHostPort(address);
  if (split === null) throw new Error(`address ${address}: missing port in address`);
  const [host, portText] = split;
  const port = Number(portText);
  if (!/^[0-9]+$/.test(portText) || port > 65535) {
    throw new Error(`lookup tcp/${portText}: unknown port`);
  }
  if (isIP(host) !== 0) return [host, port];
  try {
    return [(await lookup(host)).address, port];
  } catch {
    throw new Error(`lookup ${host}: no such host`);
  }
}

/** Go's `net.Dial("tcp", addr)`, with its error texts. */
async function dialTcp(address: string, opened: (socket: Socket) => void): Promise<Socket> {
  let ip: string;
  let port: number;
  try {
    [ip, port] = await resolveAddress(address);
  } catch (err) {
    throw new Error(`dial tcp: ${errorMessage(err)}`);
  }
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: ip, port });
    opened(socket);
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new Error(`dial tcp ${joinHostPort(ip, port)}: connect: ${errnoText(err)}`));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Go's `OpenChannelError` reasons. */
const OPEN_FAILURE_REASONS: Readonly<Record<number, string>> = {
  1: 'administratively prohibited',
  2: 'connect failed',
  3: 'unknown channel type',
  4: 'resource shortage',
};

/** A refused channel as Go's SSH library worded it: `ssh: rejected: connect failed (…)`. */
function channelError(err: Error & { reason?: unknown }): Error {
  if (typeof err.reason !== 'number') return err;
  const reason = OPEN_FAILURE_REASONS[err.reason] ?? `unknown reason ${err.reason}`;
  const description = err.message.replace(/^\(SSH\) Channel open failure: /, '');
  return new Error(`ssh: rejected: ${reason} (${description})`);
}

/** Runs one of ssh2's callback-style channel requests as a promise. */
function channelRequest(
  request: (callback: (err: Error | undefined, channel: ClientChannel) => void) => void,
  refused: string,
): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      request((err, channel) => {
        if (err === undefined) resolve(channel);
        else if (typeof (err as { reason?: unknown }).reason === 'number')
          reject(channelError(err));
        else reject(new Error(refused));
      });
    } catch (err) {
      reject(err);
    }
  });
}

interface Terminal {
  pty: PseudoTtyOptions;
  /** Puts the local terminal in raw mode; returns how to restore it. */
  raw(): () => void;
}

/** The local terminal size: of stdout or stderr when one is a terminal, else 80x24. */
function windowSize(streams: SshStreams): [columns: number, rows: number] {
  for (const output of [streams.stdout, streams.stderr]) {
    const tty = output as { isTTY?: boolean; getWindowSize?: () => [number, number] };
    if (tty.isTTY === true && typeof tty.getWindowSize === 'function') return tty.getWindowSize();
  }
  return [80, 24];
}

/**
 * fleet's `makeSession`: when stdin is a terminal, the session gets a PTY (`xterm-256color`,
 * echo on, 14400 baud, the local size) and the local terminal goes raw until it ends.
 */
function terminalOf(streams: SshStreams): Terminal | null {
  const stdin = streams.stdin as Partial<ReadStream>;
  if (stdin.isTTY !== true || typeof stdin.setRawMode !== 'function') return null;
  const [cols, rows] = windowSize(streams);
  return {
    pty: {
      term: 'xterm-256color',
      rows,
      cols,
      height: rows * 8,
      width: cols * 8,
      modes: { ECHO: 1, TTY_OP_ISPEED: 14400, TTY_OP_OSPEED: 14400 },
    },
    raw() {
      const wasRaw = stdin.isRaw === true;
      stdin.setRawMode!(true);
      return () => stdin.setRawMode!(wasRaw);
    },
  };
}

/**
 * Connects a session's stdio to fleetctl's: output streams through, stdin is copied in
 * (its end becomes the session's EOF). Resolves with how the remote side ended.
 */
function attach(
  channel: ClientChannel,
  streams: SshStreams,
  terminal: Terminal | null,
): Promise<RemoteExit | undefined> {
  return new Promise((resolve) => {
    channel.on('data', (chunk: Buffer) => streams.stdout.write(chunk));
    channel.stderr.on('data', (chunk: Buffer) => streams.stderr.write(chunk));
    const restore = terminal?.raw();
    const stdin = streams.stdin as Readable;
    stdin.pipe(channel);
    channel.on('close', (...exit: Parameters<typeof exitOnClose>) => {
      stdin.unpipe(channel);
      restore?.();
      resolve(exitOnClose(...exit));
    });
  });
}

/** An authenticated connection, as fleetctl uses one. */
class Ssh2Session implements SshSession {
  constructor(
    private readonly client: Ssh2Client,
    private readonly bastion: Ssh2Client | null,
  ) {}

  /** fleet's `Execute`: the exit status, 128+n after a signal. */
  async execute(command: string, streams: SshStreams): Promise<number> {
    const terminal = terminalOf(streams);
    const channel = await channelRequest(
      (callback) =>
        this.client.exec(command, terminal === null ? {} : { pty: terminal.pty }, callback),
      'ssh: session not started',
    );
    return exitStatus(await attach(channel, streams, terminal));
  }

  /** fleet's `Shell`: how the shell ends does not matter. */
  async shell(streams: SshStreams): Promise<void> {
    const terminal = terminalOf(streams);
    const channel = await channelRequest(
      (callback) => this.client.shell(terminal === null ? false : terminal.pty, callback),
      'ssh: could not start shell',
    );
    await attach(channel, streams, terminal);
  }

  /** Go's `Client.Dial`: a `direct-tcpip` channel, the host resolved remotely. */
  async dial(host: string, port: number): Promise<Duplex> {
    const channel = await channelRequest(
      (callback) => this.client.forwardOut('0.0.0.0', 0, host, port, callback),
      'ssh: could not open channel',
    );
    return new ChannelSocket(channel, false);
  }

  /** fleet's `DialCommand`: the command's stdin and stdout as a stream. */
  async dialCommand(command: string): Promise<Duplex> {
    const channel = await channelRequest(
      (callback) => this.client.exec(command, {}, callback),
      'ssh: session not started',
    );
    return new ChannelSocket(channel, true);
  }

  async close(): Promise<void> {
    this.client.end();
    this.bastion?.end();
  }
}

const AUTH_FAILED =
  'ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain';

/** What went wrong in a handshake, worded as Go's `ssh: handshake failed: …`. */
function handshakeError(err: Error & { level?: string }, refusal: string | undefined): Error {
  if (refusal !== undefined) return new Error(`ssh: handshake failed: ${refusal}`);
  if (err.level === 'client-authentication')
    return new Error(`ssh: handshake failed: ${AUTH_FAILED}`);
  if (err.message === 'Connection lost before handshake') {
    return new Error('ssh: handshake failed: EOF');
  }
  const detail =
    err.level === 'client-socket' ? errnoText(err as NodeJS.ErrnoException) : err.message;
  return new Error(`ssh: handshake failed: ${detail}`);
}

interface HandshakeTarget {
  /** The stream to the server: a TCP socket, or a channel through the bastion. */
  sock: Duplex;
  /** `ip:port` the stream reached, for the known hosts (Go's `remote.String()`). */
  remote: string;
  /** The address as fleetctl was given it, whose known entries choose the key algorithms. */
  dialed: string;
  agentForwarding: boolean;
}

/** Opens SSH connections as fleet's `ssh` package did. */
export class Ssh2Transport {
  private readonly checker: HostKeyChecker | null;

  constructor(
    private readonly options: SshOptions,
    private readonly agentSocket: string,
    services: SshServices,
  ) {
    this.checker = options.strictHostKeyChecking
      ? new HostKeyChecker(options.knownHostsFile, services)
      : null;
  }

  /**
   * fleet's `NewSSHClient` / `NewTunnelledSSHClient`: straight to the machine, or to the
   * bastion and from there over a `direct-tcpip` channel to the machine's IP (resolved
   * here, as Go did). Each step has `--ssh-timeout`; host keys are checked on both hops.
   */
  async connect(): Promise<SshSession> {
    const { address, tunnel, agentForwarding } = this.options;
    if (tunnel === '') {
      return new Ssh2Session(await this.dialAndShake(address, agentForwarding), null);
    }

    const bastion = await this.dialAndShake(tunnel, false);
    try {
      const [ip, port] = await resolveAddress(address);
      const remote = joinHostPort(ip, port);
      let opened: ClientChannel | undefined;
      const channel = await withSetupTimeout(
        this.options.timeoutMs,
        async () => {
          opened = await channelRequest(
            (callback) => bastion.forwardOut('0.0.0.0', 0, ip, port, callback),
            'ssh: could not open channel',
          );
          return opened;
        },
        () => opened?.close(),
      );
      const client = await this.handshakeWithTimeout({
        sock: channel,
        remote,
        dialed: address,
        agentForwarding,
      });
      return new Ssh2Session(client, bastion);
    } catch (err) {
      bastion.end();
      throw err;
    }
  }

  private dialAndShake(address: string, agentForwarding: boolean): Promise<Ssh2Client> {
    let socket: Socket | undefined;
    let client: Ssh2Client | undefined;
    return withSetupTimeout(
      this.options.timeoutMs,
      async (clock) => {
        const sock = await dialTcp(address, (opened) => {
          socket = opened;
        });
        const remote = joinHostPort(sock.remoteAddress ?? '', sock.remotePort ?? 0);
        client = await this.handshake({ sock, remote, dialed: address, agentForwarding }, clock);
        return client;
      },
      (late) => {
        (late ?? client)?.end();
        socket?.destroy();
      },
    );
  }

  private handshakeWithTimeout(target: HandshakeTarget): Promise<Ssh2Client> {
    let client: Ssh2Client | undefined;
    return withSetupTimeout(
      this.options.timeoutMs,
      async (clock) => {
        client = await this.handshake(target, clock);
        return client;
      },
      (late) => {
        (late ?? client)?.end();
        target.sock.destroy();
      },
    );
  }

  /** The SSH handshake and agent authentication over an open stream. */
  private async handshake(target: HandshakeTarget, clock: SetupClock): Promise<Ssh2Client> {
    const check = this.checker === null ? null : await this.checker.begin();
    const known = check?.keyTypesFor([target.dialed, target.remote]) ?? [];
    const client = new ssh2.Client();
    return new Promise((resolve, reject) => {
      // Settled once ready or failed; later errors of the connection are the session's.
      let settled = false;
      let refusal: string | undefined;
      let verified: Buffer | undefined;
      let pendingCommit: (() => Promise<void>) | undefined;
      let committed: Promise<void> = Promise.resolve();

      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        target.sock.destroy();
        reject(err);
      };
      client.on('handshake', () => {
        if (pendingCommit !== undefined) committed = pendingCommit();
        pendingCommit = undefined;
      });
      client.on('ready', () => {
        committed.then(() => {
          if (settled) return;
          settled = true;
          resolve(client);
        }, fail);
      });
      client.on('error', (err: Error & { level?: string }) => {
        // ssh2 reports an agent that failed to sign and goes on with the next key.
        if (err.level === 'agent') return;
        fail(handshakeError(err, refusal));
      });
      client.on('close', () => fail(new Error('ssh: handshake failed: EOF')));

      const config: ConnectConfig = {
        sock: target.sock as Readable,
        username: this.options.user,
        agent: new ssh2.OpenSSHAgent(this.agentSocket),
        agentForward: target.agentForwarding,
        authHandler: ['none', 'agent'],
        readyTimeout: 0,
        algorithms: { serverHostKey: hostKeyAlgorithms(known) },
      };
      if (check !== null) {
        config.hostVerifier = (key: Buffer, verify: (valid: boolean) => void) => {
          // A later key exchange must present the key checked first.
          if (verified !== undefined) {
            verify(verified.equals(key));
            return;
          }
          clock.pause();
          check.verify(target.remote, key).then(
            (verdict: Verdict) => {
              clock.resume();
              if (verdict.ok) {
                verified = key;
                pendingCommit = verdict.commit;
              } else {
                refusal = verdict.error;
              }
              verify(verdict.ok);
            },
            (err: Error) => {
              clock.resume();
              refusal = err.message;
              verify(false);
            },
          );
        };
      }
      try {
        client.connect(config);
      } catch (err) {
        fail(err as Error);
      }
    });
  }
}
