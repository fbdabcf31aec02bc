/** An error reply from systemd (or the bus daemon): the message is the sender's own text. */
export class SystemdError extends Error {
  override readonly name = 'SystemdError';

  constructor(
    /** The D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`. */
    readonly dbusName: string,
    message: string,
  ) {
    super(message);
  }
}

/** A call that got no answer in time: systemd is wedged or the bus is stuck (fleet #893). */
export class DBusTimeoutError extends Error {
  override readonly name = 'DBusTimeoutError';

  constructor(
    readonly call: string,
    readonly timeoutMs: number,
  ) {
    super(`D-Bus call ${call} timed out after ${timeoutMs}ms`);
  }
}

/** The bus connection closed (the bus daemon stopped); every later call fails at once. */
export class DBusClosedError extends Error {
  override readonly name = 'DBusClosedError';

  constructor(readonly call: string) {
    super(`D-Bus connection closed: ${call} cannot be answered`);
  }
}

const NO_SUCH_UNIT = 'org.freedesktop.systemd1.NoSuchUnit';

/**
 * systemd's answer for a unit it has not loaded (`Unit x not loaded.`) or a unit file it has
 * no link for (`Unit file x does not exist.`): nothing to stop, disable or reset.
 */
export function isNoSuchUnit(err: unknown): boolean {
  return err instanceof SystemdError && err.dbusName === NO_SUCH_UNIT;
}
