import { lstat, unlink } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { goJsonEncode } from '../go/json-encode.js';
import { type ApiListener, describeListener, formatHost } from './listeners.js';
import { errorBody } from './respond.js';

/** The API being served on one or more listeners. */
export interface ApiServer {
  /** Each listener's address as Go printed it: a socket path or `host:port`. */
  readonly addresses: readonly string[];
  /** Stops listening and drops open connections, including idle keep-alive ones. */
  close(): Promise<void>;
}

/** Serves `handler` on every listener; fails, serving nothing, if one cannot be opened. */
export async function serveApi(
  handler: RequestListener,
  listeners: readonly ApiListener[],
  log: Logger,
): Promise<ApiServer> {
  const servers: Server[] = [];
  try {
    for (const listener of listeners) {
      const server = createServer(handler);
      server.on('clientError', answerMalformedRequest);
      await listen(server, listener, log);
      servers.push(server);
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
  return {
    addresses: servers.map(addressOf),
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
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

function listenOnce(server: Server, listener: ApiListener): Promise<void> {
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
