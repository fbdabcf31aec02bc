import type { RequestListener } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Logger } from 'pino';
import { formatHost } from '../api/listeners.js';
import { type PeerCredentials, splitHostPort } from './peers.js';

/** The peer listener being served. */
export interface PeerListener {
  /** `host:port` as bound (the port is the kernel's choice when 0 was asked). */
  readonly address: string;
  /** Stops listening and drops open connections, followed journals included. */
  close(): Promise<void>;
}

/**
 * Serves `handler` to other fleetds on the peer address, over TLS with this machine's peer
 * certificate. Only clients presenting a certificate of the peer CA complete the handshake;
 * the handler then checks that it is a peer's.
 */
export async function listenForPeers(
  credentials: PeerCredentials,
  handler: RequestListener,
  log: Logger,
): Promise<PeerListener> {
  const server: Server = createServer(
    {
      cert: credentials.cert,
      key: credentials.key,
      ca: credentials.ca,
      requestCert: true,
      rejectUnauthorized: true,
    },
    handler,
  );
  server.on('tlsClientError', (err, socket) =>
    log.warn({ err, remote: socket.remoteAddress }, `Refused a peer connection: ${err.message}`),
  );
  const { host, port } = splitHostPort(credentials.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'Peer listener failed'));
  const bound = server.address();
  const address =
    bound !== null && typeof bound === 'object'
      ? `${formatHost(bound.address)}:${bound.port}`
      : credentials.address;
  log.info(`Serving unit status and journal to peers on ${address}`);
  return {
    address,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
