import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import type { Logger } from 'pino';
import { errorMessage } from '../error-message.js';
import type { BusClient, MethodCall, MethodCaller, Signal } from './bus-client.js';

export interface ReconnectingBusOptions {
  /** Opens a new connection to the bus. */
  connect: () => BusClient;
  log: Logger;
  /** Bounds of the delay between attempts to reconnect. */
  backoff: { initialMs: number; maxMs: number };
}

/** Readies a new connection before any call goes through it; a failure closes it. */
export type SetUp = (connection: BusClient) => Promise<void>;

/**
 * The bus connection fleetd keeps for its life. A restart of the bus daemon (dbus-daemon or
 * dbus-broker) closes a connection for good, so this opens a new one with bounded
 * exponential backoff and sets it up again (match rules, Subscribe) before using it. While
 * there is none, calls fail at once with DBusClosedError, as they do on a closed connection.
 */
export class ReconnectingBus implements MethodCaller {
  private current: BusClient | null = null;
  private setUp: SetUp = async () => undefined;
  private readonly signalListeners: ((signal: Signal) => void)[] = [];
  private readonly statusListeners: ((connected: boolean) => void)[] = [];
  private readonly closing = new AbortController();

  constructor(private readonly options: ReconnectingBusOptions) {}

  /** Connects for the first time; fails (without retrying) when that connection fails. */
  async open(setUp: SetUp): Promise<void> {
    this.setUp = setUp;
    this.use(await this.connect(), false);
  }

  get connected(): boolean {
    return this.current !== null && !this.current.isClosed;
  }

  call(method: MethodCall): Promise<unknown[]> {
    if (this.current === null) return Promise.reject(new Error('D-Bus call before open()'));
    return this.current.call(method);
  }

  /** Signals arriving on the current connection, whichever it is. */
  onSignal(listener: (signal: Signal) => void): void {
    this.signalListeners.push(listener);
  }

  /** Called with false when the connection is lost, with true each time one is set up. */
  onStatus(listener: (connected: boolean) => void): void {
    this.statusListeners.push(listener);
  }

  close(): void {
    this.closing.abort();
    this.current?.close();
  }

  private async connect(): Promise<BusClient> {
    const connection = this.options.connect();
    connection.onSignal((signal) => {
      for (const listener of this.signalListeners) listener(signal);
    });
    connection.onClose(() => {
      if (connection === this.current) this.lost();
    });
    try {
      await this.setUp(connection);
    } catch (err) {
      connection.close();
      throw err;
    }
    return connection;
  }

  private use(connection: BusClient, reconnected: boolean): void {
    this.current = connection;
    // Closed between its set-up and now, when it was not the current connection yet.
    if (connection.isClosed) {
      this.lost();
      return;
    }
    if (reconnected) this.options.log.info('Reconnected to systemd over D-Bus');
    this.status(true);
  }

  private lost(): void {
    if (this.closing.signal.aborted) return;
    this.options.log.warn('Lost the D-Bus connection to systemd; reconnecting');
    this.status(false);
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const { log, backoff } = this.options;
    const policy = retry(handleAll, {
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: new ExponentialBackoff({ initialDelay: backoff.initialMs, maxDelay: backoff.maxMs }),
    }).dangerouslyUnref();
    policy.onRetry((reason) => {
      const why = 'error' in reason ? errorMessage(reason.error) : 'no answer';
      log.warn(
        `Unable to reconnect to systemd over D-Bus: ${why}; retrying in ${Math.round(reason.delay)}ms`,
      );
    });
    let connection: BusClient;
    try {
      connection = await policy.execute(async ({ signal }) => {
        if (signal.aborted) throw new Error('closed');
        const opened = await this.connect();
        if (signal.aborted) {
          opened.close();
          throw new Error('closed');
        }
        return opened;
      }, this.closing.signal);
    } catch {
      return; // closed meanwhile: nothing to reconnect for
    }
    this.use(connection, true);
  }

  private status(connected: boolean): void {
    for (const listener of this.statusListeners) listener(connected);
  }
}
