import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import type { CommandRun } from '../context.js';

/**
 * `fleetctl fd-forward SOCKET`: copies stdin to a Unix socket and the socket to stdout.
 * fleetctl runs it on a `--tunnel` bastion to reach the API's socket there. The end of
 * stdin is passed on as a half-close, and the copy ends when the socket does, so the last
 * response is not cut off (fleet stopped at whichever side ended first).
 */
export const run: CommandRun = (context) => {
  if (context.args.length !== 1) {
    context.stderr.write('Provide a single argument\n');
    return Promise.resolve(1);
  }
  const path = context.args[0]!;
  return new Promise((done) => {
    const socket = createConnection(resolve(context.cwd, path));
    let connected = false;
    socket.on('connect', () => {
      connected = true;
      context.stdin.pipe(socket);
    });
    socket.on('data', (chunk: Buffer) => context.stdout.write(chunk));
    socket.on('end', () => done(0));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) {
        context.stderr.write(`Encountered error during copy: ${err.message}\n`);
      } else {
        const reason = err.code === 'ENOENT' ? 'no such file or directory' : err.message;
        context.stderr.write(
          `Failed dialing remote address: dial unix ${path}: connect: ${reason}\n`,
        );
      }
      done(1);
    });
  });
};
