import { lstat, unlink } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { goJsonEncode } from '../go/json-encode.js';
import { type ApiListener, describeListener, formatHost } from './listeners.js';
import { errorBody } from './respond.js';
import { markServedOn, type ServedOn } from './served-on.js';

/** How TCP listeners speak; unix sockets are always plain HTTP. */
export interface ApiTransport {
  /** PEM certificate and key, and the CA client certificates are asked against (if any). */
  tls: { cert: Buffer; key: Buffer; clientCa: Buffer | null } | null;
  /** Whether TCP may be plain HTTP when there is no `tls`; if not, such a listener fails. */
  plainTcp: boolean;
}

/** Plain HTTP everywhere, as fleet served: what tests of the original behaviour use. */
export const PLAIN_TRANSPORT: ApiTransport = { tls: null, plainTcp: true };

export class PlainTcpRefusedError extends Error {
  override name = 'PlainTcpRefusedError';
  constructor(address: string) {
    super(
      `API listener ${address} is TCP: set api_tls_cert_file and api_tls_key_file to serve TLS, or api_insecure_tcp=true to serve plain HTTP to anyone who can reach it`,
    );
  }
}

/** The API being served on one or more listeners. */
export interface ApiServer {
  /** Each listener's address as Go printed it: a socket path or `host:port`. */
  readonly addresses: readonly string[];
  /** What each listener turned out to be, in the same order. */
  readonly listeners: readonly ServedOn[];
  /** Stops listening and drops open connections, including idle keep-alive ones. */
  close(): Promise<void>;
}

/** Serves `handler` on every listener; fails, serving nothing, if one cannot be opened. */
export async function serveApi(
  handler: RequestListener,
  listeners: readonly ApiListener[],
  log: Logger,
  transport: ApiTransport = PLAIN_TRANSPORT,
): Promise<ApiServer> {
  const servers: Server[] = [];
  const served: ServedOn[] = [];
  try {
    for (const listener of listeners) {
      const server = await serveOne(handler, listener, log, transport);
      servers.push(server.server);
      served.push(server.servedOn);
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
  return {
    addresses: servers.map(addressOf),
    listeners: served,
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}

/**
 * Opens one listener: plain HTTP on a unix socket; TLS, or plain HTTP where allowed, on TCP.
 * A descriptor from systemd is only known to be TCP once listened on, so it starts as plain
 * HTTP and is handed to a TLS server before any connection can be accepted.
 */
async function serveOne(
  handler: RequestListener,
  listener: ApiListener,
  log: Logger,
  transport: ApiTransport,
): Promise<{ server: Server; servedOn: ServedOn }> {
  const marking = (servedOn: () => ServedOn): RequestListener => {
    let known: ServedOn | undefined;
    return (req, res) => {
      known ??= servedOn();
      markServedOn(req, known);
      handler(req, res);
    };
  };
  const tlsServer = (tls: NonNullable<ApiTransport['tls']>): Server => {
    const server: Server = createTlsServer(
      {
        cert: tls.cert,
        key: tls.key,
        ...(tls.clientCa !== null && { ca: tls.clientCa, requestCert: true }),
        // The handler refuses a bad certificate with fleet's error body and an audit line.
        rejectUnauthorized: false,
      },
      marking(() => ({ transport: 'tcp', tls: true, address: addressOf(server) })),
    );
    server.on('clientError', answerMalformedRequest);
    return server;
  };
  if ('host' in listener && transport.tls !== null) {
    const server = tlsServer(transport.tls);
    await listen(server, listener, log);
    return { server, servedOn: { transport: 'tcp', tls: true, address: addressOf(server) } };
  }
  if ('host' in listener && !transport.plainTcp) {
    throw new PlainTcpRefusedError(describeListener(listener));
  }
  const plain: Server = createServer(marking(() => servedOnPlain(plain, listener)));
  plain.on('clientError', answerMalformedRequest);
  await listen(plain, listener, log);
  const servedOn = servedOnPlain(plain, listener);
  if (servedOn.transport === 'unix') return { server: plain, servedOn };
  if (transport.tls !== null) {
    const secure = tlsServer(transport.tls);
    // Takes over the listening handle itself (`listen(server)`), so nothing is reopened; the
    // handle is secure's to close from now on, and plain is left alone.
    await listenOnce(secure, plain);
    plain.removeAllListeners();
    return { server: secure, servedOn: { ...servedOn, tls: true } };
  }
  if (!transport.plainTcp) {
    await closeServer(plain);
    throw new PlainTcpRefusedError(servedOn.address);
  }
  return { server: plain, servedOn };
}

/** A unix socket passed by systemd has no name node can read, so it goes by its descriptor. */
function servedOnPlain(server: Server, listener: ApiListener): ServedOn {
  const address = server.address();
  if (address !== null && typeof address === 'object') {
    return { transport: 'tcp', tls: false, address: addressOf(server) };
  }
  return { transport: 'unix', path: address ?? describeListener(listener) };
}

async function listen(server: Server, listener: ApiListener, log: Logger): Promise<void> {
  try {
    await listenOnce(server, listener);
  } catch (err) {
    if (!('path' in listener) || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      log.error({ err }, `Failed serving HTTP on listener: ${describeListener(listener)}`);
      throw err;
    }
    // A socket file left by a fleetd that died: reuse the path unless someone answers there.
    if (await removeStaleSocket(listener.path)) {
      await listenOnce(server, listener);
    } else {
      log.error({ err }, `Failed serving HTTP on listener: ${describeListener(listener)}`);
      throw err;
    }
  }
  const address = addressOf(server);
  server.on('error', (err) => log.error({ err }, `Failed serving HTTP on listener: ${address}`));
}

function listenOnce(server: Server, listener: ApiListener | Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const options = 'host' in listener && listener.host === '' ? { port: listener.port } : listener;
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function removeStaleSocket(path: string): Promise<boolean> {
  const stats = await lstat(path).catch(() => null);
  if (stats === null || !stats.isSocket()) return false;
  const answered = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answered) return false;
  await unlink(path);
  return true;
}

function addressOf(server: Server): string {
  const address = server.address();
  if (address === null) return '';
  if (typeof address === 'string') return address;
  return `${formatHost(address.address)}:${address.port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Malformed HTTP never reaches a handler; it still gets a JSON error, then the socket closes. */
function answerMalformedRequest(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'request header fields too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request timed out']
        : [400, 'Bad Request', 'malformed HTTP request'];
  const body = goJsonEncode(errorBody(status, message));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
