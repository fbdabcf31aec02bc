import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface DashboardForward {
  /** The dashboard's address on the host, e.g. `https://127.0.0.1:41234/ui/`. */
  address: string;
  relay: ChildProcess;
}

/**
 * Forwards a port on the host's 127.0.0.1 to a machine's TLS listener (`https://<ip>:<port>`),
 * which only the cluster's network namespace reaches: the socket is opened here, on the host,
 * and handed to a relay running in the namespace, which connects onward. The relay ends when
 * this process does.
 */
export async function forwardDashboard(
  netns: string,
  tlsEndpoint: string,
): Promise<DashboardForward> {
  const target = new URL(tlsEndpoint);
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const relay = spawn(
    'ip',
    [
      'netns',
      'exec',
      netns,
      process.execPath,
      '--import',
      join(here, 'register.mjs'),
      join(here, 'dashboard-relay.ts'),
      target.hostname,
      target.port,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.once('exit', (code) => reject(new Error(`the dashboard relay exited with ${code}`)));
    relay.on('message', (message) => {
      if (message === 'ready') resolve();
    });
    relay.send('listener', server);
  });
  relay.removeAllListeners('exit');
  // The relay holds its own copy of the socket: connections now go to it alone.
  server.close();
  return { address: `https://127.0.0.1:${address.port}/ui/`, relay };
}
