// A fleetd stand-in for the socket-activation test: serves the API on the sockets systemd
// (here, the test) passed, reports what it found on stdout, and stops when stdin closes.
// With ACTIVATED_TLS_CERT and ACTIVATED_TLS_KEY it serves TCP with TLS, as fleetd does.
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { createApiHandler } from '../../../src/api/handler.js';
import { PLAIN_TRANSPORT, serveApi } from '../../../src/api/serve.js';
import { socketActivationListeners } from '../../../src/api/socket-activation.js';
import { openRegistry } from '../../../src/registry/registry.js';

const listeners = socketActivationListeners(process.env);
const log = pino({ level: 'silent' });
// Never available: requests are answered without touching etcd, which is not running.
const etcd = new Etcd3({ hosts: 'http://127.0.0.1:9' });
const handler = createApiHandler({
  registry: openRegistry(etcd, '/unused/', () => undefined),
  version: 'activated',
  tokenLimit: 100,
  available: () => false,
  log,
});
const { ACTIVATED_TLS_CERT: cert, ACTIVATED_TLS_KEY: key } = process.env;
const transport =
  cert === undefined || key === undefined
    ? PLAIN_TRANSPORT
    : {
        tls: { cert: readFileSync(cert), key: readFileSync(key), clientCa: null },
        plainTcp: false,
      };
const server = await serveApi(handler, listeners, log, transport);
process.stdout.write(
  `${JSON.stringify({
    listeners,
    addresses: server.addresses,
    served: server.listeners,
    env: ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'].filter((name) => name in process.env),
  })}\n`,
);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.close().then(() => {
    etcd.close();
    process.exit(0);
  });
});
