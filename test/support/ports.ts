import { createServer, type Server } from 'node:net';

// Other etcd servers on this machine may own the well-known ports; never hand them out.
const RESERVED_PORTS = new Set([2379, 2380, 4001]);

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Finds `count` distinct loopback ports that were free a moment ago. They are released before
 * returning, so a process started later can still lose the race for one: callers retry on
 * EADDRINUSE.
 */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    while (ports.length < count) {
      const server = await listenOnAnyPort();
      servers.push(server);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        throw new Error('a TCP server reported no port');
      }
      if (!RESERVED_PORTS.has(address.port)) ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map(close));
  }
}
