// The far end of `up --secure`'s dashboard forward: started by the keeper inside the cluster's
// network namespace, it gets the keeper's listening socket on the host's 127.0.0.1 over IPC
// and joins every connection to a machine's TLS listener, which only the namespace reaches.
//
//   ip netns exec <netns> node --import ./cluster/register.mjs cluster/dashboard-relay.ts <host> <port>
import { connect, type Server, type Socket } from 'node:net';

const [host, portText] = process.argv.slice(2);
const port = Number(portText);
if (host === undefined || !Number.isInteger(port)) {
  process.stderr.write('usage: dashboard-relay.ts <host> <port>\n');
  process.exit(2);
}

process.on('message', (message: unknown, handle: unknown) => {
  if (message !== 'listener') return;
  const server = handle as Server;
  server.on('connection', (client: Socket) => {
    const upstream = connect({ host, port });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  process.send?.('ready');
});
// The keeper gone (down, or it died): nothing is left to forward for.
process.on('disconnect', () => process.exit(0));
