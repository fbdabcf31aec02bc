import { errorMessage } from '../../error-message.js';

/** How a remote command ended, as the server said (`exit-status` or `exit-signal`). */
export interface RemoteExit {
  code: number | null;
  /** `SIGTERM` style, as ssh2 reports it. */
  signal?: string | undefined;
  description?: string | undefined;
}

/** The signal numbers Go's SSH library knew, for the 128+n status of a killed command. */
const SIGNALS: Readonly<Record<string, number>> = {
  ABRT: 6,
  ALRM: 14,
  FPE: 8,
  HUP: 1,
  ILL: 4,
  INT: 2,
  KILL: 9,
  PIPE: 13,
  QUIT: 3,
  SEGV: 11,
  TERM: 15,
};

export const NO_EXIT_STATUS = 'wait: remote command exited without exit status or exit signal';

/**
 * Go's `Session.Wait` as fleet read it: the exit status, 128+n for a command killed by a
 * signal; a command that ended without saying how is an error.
 */
export function exitStatus(exit: RemoteExit | undefined): number {
  if (exit === undefined) throw new Error(NO_EXIT_STATUS);
  if (exit.code !== null) return exit.code;
  const signal = (exit.signal ?? '').replace(/^SIG/, '');
  if (signal === '') throw new Error(NO_EXIT_STATUS);
  return 128 + (SIGNALS[signal] ?? 0);
}

/** Go's `ExitError` text for a command that did not succeed; null when it did. */
export function exitMessage(exit: RemoteExit | undefined): string | null {
  let status: number;
  try {
    status = exitStatus(exit);
  } catch (err) {
    return errorMessage(err);
  }
  if (status === 0) return null;
  let message = `Process exited with status ${status}`;
  const signal = (exit?.signal ?? '').replace(/^SIG/, '');
  if (exit?.code === null && signal !== '') message += ` from signal ${signal}`;
  if ((exit?.description ?? '') !== '') message += `. Reason was: ${exit?.description}`;
  return message;
}

/**
 * The exit as ssh2 hands it to a session channel's `close` listener: the status the channel
 * recorded, however early it came. An `exit` listener added once the channel's opening
 * promise settles can miss a quick command's status, parsed in the same read as the
 * confirmation.
 */
export function exitOnClose(
  code?: number | null,
  signal?: string,
  _dump?: boolean,
  description?: string,
): RemoteExit | undefined {
  return code === undefined ? undefined : { code, signal, description };
}
