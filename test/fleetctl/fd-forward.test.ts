import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runFleetctl } from '../../src/fleetctl/run.js';
import { BufferedOutput } from './buffered-output.js';

describe('fd-forward', () => {
  it('copies stdin to the socket and the socket to stdout', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetctl-fd-'));
    const path = join(dir, 'api.sock');
    const received: Buffer[] = [];
    const server = createServer((socket) => {
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        socket.end(`echo:${chunk.toString()}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const stdout = new BufferedOutput();
      const stderr = new BufferedOutput();
      const status = await runFleetctl({
        argv: ['fd-forward', path],
        env: {},
        cwd: dir,
        stdin: Readable.from([Buffer.from('GET / HTTP/1.0\r\n\r\n')]),
        stdout,
        stderr,
      });
      expect(status).toBe(0);
      expect(Buffer.concat(received).toString()).toBe('GET / HTTP/1.0\r\n\r\n');
      expect(stdout.text).toBe('echo:GET / HTTP/1.0\r\n\r\n');
      expect(stderr.text).toBe('');
    } finally {
      server.close();
    }
  });

  it('reports a socket it cannot dial', async () => {
    const stderr = new BufferedOutput();
    const status = await runFleetctl({
      argv: ['fd-forward', '/nonexistent/fleet.sock'],
      env: {},
      cwd: '/',
      stdin: Readable.from([]),
      stdout: new BufferedOutput(),
      stderr,
    });
    expect(status).toBe(1);
    expect(stderr.text).toBe(
      'Failed dialing remote address: dial unix /nonexistent/fleet.sock: connect: no such file or directory\n',
    );
  });
});
