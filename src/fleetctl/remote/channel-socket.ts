import { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { exitMessage, exitOnClose } from './exit-status.js';

/**
 * An SSH channel as the socket of an HTTP request (`--tunnel`): a `direct-tcpip` channel, or
 * the stdio of a remote `fleetctl fd-forward`. For a command, the end of its output waits
 * for its exit: a failure becomes the stream's error (`Process exited with status 1`), as
 * fleet's `proxyConn` reported it; its stderr is discarded. Closing the stream sends the
 * command SIGTERM and closes the channel.
 */
export class ChannelSocket extends Duplex {
  private idleMs = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly channel: ClientChannel,
    private readonly command: boolean,
  ) {
    super({ allowHalfOpen: true });
    channel.on('data', (chunk: Buffer) => {
      this.touch();
      if (!this.push(chunk)) channel.pause();
    });
    channel.stderr.resume();
    channel.on('close', (...exit: Parameters<typeof exitOnClose>) => {
      this.clearIdle();
      const failure = this.command ? exitMessage(exitOnClose(...exit)) : null;
      if (failure !== null) this.destroy(new Error(failure));
      else this.push(null);
    });
    channel.on('error', (err: Error) => this.destroy(err));
  }

  override _read(): void {
    this.channel.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void) {
    this.touch();
    this.channel.write(chunk, (err?: Error | null) => done(err ?? null));
  }

  override _final(done: (err?: Error | null) => void): void {
    this.channel.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.clearIdle();
    if (this.command) this.channel.signal('TERM');
    this.channel.close();
    done(err);
  }

  /** `net.Socket#setTimeout`, which Node's HTTP client calls: 'timeout' after idleness. */
  setTimeout(ms: number, onTimeout?: () => void): this {
    if (onTimeout !== undefined) this.once('timeout', onTimeout);
    this.idleMs = ms;
    this.touch();
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  private touch(): void {
    this.clearIdle();
    if (this.idleMs > 0) this.idleTimer = setTimeout(() => this.emit('timeout'), this.idleMs);
  }

  private clearIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
