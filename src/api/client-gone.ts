import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/**
 * A client that timed out and tries again, perhaps through another fleetd, must not see its
 * first request land after a later one: that would undo the later one without anyone being
 * told. So each request's writes are called off once its client hangs up before the answer.
 */
const signals = new WeakMap<ServerResponse, AbortSignal>();

export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

/** Starts watching for the client hanging up on `res`; call once, as the request arrives. */
export function watchForHangUp(req: IncomingMessage, res: ServerResponse, log: Logger): void {
  const controller = new AbortController();
  signals.set(res, controller.signal);
  res.once('close', () => {
    if (res.writableFinished) return;
    log.info(
      { method: req.method, url: req.url },
      `Client went away before its request was answered: ${req.method} ${req.url}`,
    );
    controller.abort(new ClientGoneError(`the client of ${req.method} ${req.url} went away`));
  });
}

/** Aborted once the client of `res` has hung up; never, for a request not watched. */
export function hangUpSignal(res: ServerResponse): AbortSignal | undefined {
  return signals.get(res);
}
