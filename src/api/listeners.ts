import { socketActivationListeners } from './socket-activation.js';

/**
 * Where the API listens: a descriptor passed by systemd, a unix socket path, or TCP (an
 * empty host meaning every address).
 */
export type ApiListener = { fd: number } | { path: string } | { host: string; port: number };

/**
 * The sockets systemd passed, else the one `api_listen` names (`/path` or `host:port`,
 * already validated by the configuration schema), else none: like fleet, which served the
 * API only on activated sockets.
 */
export function apiListeners(
  apiListen: string,
  env: NodeJS.ProcessEnv = process.env,
): ApiListener[] {
  const activated = socketActivationListeners(env);
  if (activated.length > 0) return activated;
  if (apiListen === '') return [];
  if (apiListen.startsWith('/')) return [{ path: apiListen }];
  const colon = apiListen.lastIndexOf(':');
  const host = apiListen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return [{ host, port: Number(apiListen.slice(colon + 1)) }];
}

/** As Go printed a listener's address: `/run/fleet.sock`, `127.0.0.1:49153`, `[::1]:49153`. */
export function describeListener(listener: ApiListener): string {
  if ('fd' in listener) return `fd ${listener.fd}`;
  if ('path' in listener) return listener.path;
  return `${formatHost(listener.host)}:${listener.port}`;
}

export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
