import type { IncomingMessage } from 'node:http';

/** The kind of listener a request came in on, which decides how its caller is identified. */
export type ServedOn =
  | { transport: 'unix'; path: string }
  | { transport: 'tcp'; tls: boolean; address: string };

const servedOn = new WeakMap<IncomingMessage, ServedOn>();

export function markServedOn(req: IncomingMessage, listener: ServedOn): void {
  servedOn.set(req, listener);
}

/** Undefined for a request that no `serveApi` listener took, such as one made up by a test. */
export function servedOnOf(req: IncomingMessage): ServedOn | undefined {
  return servedOn.get(req);
}
