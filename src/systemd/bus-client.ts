import type { EventEmitter } from 'node:events';
import { DBusError, Message, type MessageBus, MessageType, sessionBus, systemBus } from 'dbus-next';
import type { Logger } from 'pino';
import { Semaphore } from '../semaphore.js';
import { DBusClosedError, DBusTimeoutError, SystemdError } from './systemd-error.js';

const NAME_HAS_NO_OWNER = 'org.freedesktop.DBus.Error.NameHasNoOwner';

/** A method call, addressed in full. */
export interface MethodCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  /** Signature of `body`; empty for no arguments. */
  signature: string;
  body: unknown[];
  /** Signature the reply must carry: the body's shape is then guaranteed by the decoder. */
  replySignature: string;
}

export interface Signal {
  sender: string;
  path: string;
  interface: string;
  member: string;
  body: unknown[];
}

export interface BusClientOptions {
  /** The user's session bus (`systemd --user`) instead of the system bus. */
  userBus: boolean;
  callTimeoutMs: number;
  /**
   * Calls in flight at once. The system bus daemon refuses more than 128 pending replies
   * per connection (`max_replies_per_connection`) with LimitsExceeded.
   */
  maxInFlight: number;
  log: Logger;
}

/** What the systemd API needs of a connection: calls. */
export interface MethodCaller {
  call(method: MethodCall): Promise<unknown[]>;
}

interface Waiter {
  /** `interface.member`, to name the call in errors. */
  what: string;
  settled: boolean;
  fail(err: Error): void;
}

/**
 * One connection to a D-Bus bus, on dbus-next's low-level API (no proxy objects: a proxy
 * introspects first and adds a match rule per object that is never removed). Every call
 * has a deadline, a bounded number are in flight, error replies become SystemdErrors, and
 * when the connection closes every waiting call fails at once.
 */
export class BusClient implements MethodCaller {
  private readonly bus: MessageBus;
  private readonly slots: Semaphore;
  private readonly waiters = new Set<Waiter>();
  private readonly closeListeners: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: BusClientOptions) {
    // Both honour the usual variables: DBUS_SYSTEM_BUS_ADDRESS, DBUS_SESSION_BUS_ADDRESS.
    this.bus = options.userBus ? sessionBus() : systemBus();
    this.slots = new Semaphore(options.maxInFlight);
    // Without a listener, an `error` event (socket refused, write after close) would throw.
    this.bus.on('error', (err: unknown) => options.log.warn({ err }, 'D-Bus connection error'));
    socketOf(this.bus).once('close', () => this.markClosed());
  }

  /** Calls a method and resolves with the reply's body. */
  call(method: MethodCall): Promise<unknown[]> {
    const what = `${method.interface}.${method.member}`;
    if (this.closed) return Promise.reject(new DBusClosedError(what));
    return new Promise<unknown[]>((resolve, reject) => {
      const timer = setTimeout(
        () => waiter.fail(new DBusTimeoutError(what, this.options.callTimeoutMs)),
        this.options.callTimeoutMs,
      );
      const waiter: Waiter = {
        what,
        settled: false,
        fail: (err) => settle(() => reject(err)),
      };
      const settle = (finish: () => void): void => {
        if (waiter.settled) return;
        waiter.settled = true;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        finish();
      };
      this.waiters.add(waiter);
      this.slots
        // A call that expired while waiting for a slot is never sent: its caller has
        // already been told it failed, and a late StartUnit would surprise everyone.
        .run(async () => (waiter.settled ? [] : this.send(method, what)))
        .then(
          (body) => settle(() => resolve(body)),
          (err: unknown) => waiter.fail(toError(err)),
        );
    });
  }

  /** Adds a bus-wide match rule: signals matching it arrive at `onSignal` listeners. */
  async addMatch(rule: string): Promise<void> {
    await this.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'AddMatch',
      signature: 's',
      body: [rule],
      replySignature: '',
    });
  }

  /** The unique name (`:1.7`) owning a well-known name, or null when nobody owns it. */
  async nameOwner(name: string): Promise<string | null> {
    try {
      const [owner] = await this.call({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'GetNameOwner',
        signature: 's',
        body: [name],
        replySignature: 's',
      });
      return owner as string;
    } catch (err) {
      if (err instanceof SystemdError && err.dbusName === NAME_HAS_NO_OWNER) return null;
      throw err;
    }
  }

  onSignal(listener: (signal: Signal) => void): void {
    this.bus.on('message', (message: Message) => {
      if (message.type !== MessageType.SIGNAL) return;
      listener({
        sender: message.sender,
        path: message.path,
        interface: message.interface,
        member: message.member,
        body: message.body,
      });
    });
  }

  /** True once the connection closed: it never opens again. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Called once when the connection closes, whether the bus went away or `close()` was called. */
  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  close(): void {
    if (this.closed) return;
    this.markClosed();
    this.bus.disconnect();
  }

  private async send(method: MethodCall, what: string): Promise<unknown[]> {
    if (this.closed) throw new DBusClosedError(what);
    const reply = await this.bus.call(
      new Message({
        destination: method.destination,
        path: method.path,
        interface: method.interface,
        member: method.member,
        signature: method.signature,
        body: method.body,
      }),
    );
    if (reply === null) return [];
    if (reply.signature !== method.replySignature) {
      throw new Error(
        `D-Bus call ${what} answered with signature "${reply.signature}", expected "${method.replySignature}"`,
      );
    }
    return reply.body;
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.fail(new DBusClosedError(waiter.what));
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

function toError(err: unknown): Error {
  if (err instanceof DBusError) return new SystemdError(err.type, err.text || err.type);
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * dbus-next never reports that its socket closed: pending calls would wait forever. The
 * socket is internal (`_connection.stream`, stable in 0.10.2, which is pinned and no longer
 * maintained); watching it lets calls fail as soon as the bus goes away.
 */
function socketOf(bus: MessageBus): EventEmitter {
  return (bus as unknown as { _connection: { stream: EventEmitter } })._connection.stream;
}
