import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { groupIdIn, restrictApiSocket } from '../../src/server/socket-access.js';

describe('groupIdIn', () => {
  const GROUPS = 'root:x:0:\nfleetadm:x:990:\nfleet:x:991:alice,bob\nbroken:x::\nodd:x:-4:\n';
  it.each([
    { name: 'fleet', gid: 991 },
    { name: 'root', gid: 0 },
    { name: 'flee', gid: null },
    { name: 'broken', gid: null },
    { name: 'odd', gid: null },
    { name: 'nobody', gid: null },
  ])('finds $name: $gid', ({ name, gid }) => {
    expect(groupIdIn(GROUPS, name)).toBe(gid);
  });
});

describe('restrictApiSocket', () => {
  let dir: string;
  let server: Server;
  let warnings: string[];
  const log = () =>
    pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg) });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-socket-'));
    warnings = [];
    server = createServer();
    // A socket as fleetd's umask would leave it: usable by everyone.
    const mask = process.umask(0);
    try {
      await new Promise<void>((resolve) => server.listen(join(dir, 'api.sock'), resolve));
    } finally {
      process.umask(mask);
    }
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const socket = () => join(dir, 'api.sock');

  it('makes the socket 0660 and warns that only root may use it when there is no fleet group', async () => {
    expect(statSync(socket()).mode & 0o777).toBe(0o777);
    writeFileSync(join(dir, 'group'), 'root:x:0:\n');
    await restrictApiSocket(socket(), log(), join(dir, 'group'));
    expect(statSync(socket()).mode & 0o777).toBe(0o660);
    expect(warnings).toEqual([
      `Group fleet does not exist: only root may use the API socket ${socket()}`,
    ]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'gives the socket to the fleet group, keeping its owner',
    async () => {
      writeFileSync(join(dir, 'group'), 'root:x:0:\nfleet:x:4242:\n');
      await restrictApiSocket(socket(), log(), join(dir, 'group'));
      const stats = statSync(socket());
      expect(stats.mode & 0o777).toBe(0o660);
      expect(stats.gid).toBe(4242);
      expect(stats.uid).toBe(0);
      expect(warnings).toEqual([]);
    },
  );
});
