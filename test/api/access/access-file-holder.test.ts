import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccessFileHolder } from '../../../src/api/access/access-file-holder.js';

const GRANT = JSON.stringify({ tokens: [{ name: 'a', sha256: 'ab'.repeat(32), role: 'read' }] });

let dir: string;
let path: string;
let lines: Array<{ level: number; msg: string }>;
const log = () =>
  pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-access-'));
  path = join(dir, 'access.json');
  lines = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the access file in force', () => {
  it('grants nothing when missing at start, saying so, and takes the file once it is there', async () => {
    const holder = new AccessFileHolder(path, log());
    await holder.loadAtStart();
    expect(holder.current()).toEqual({ tokens: [], certificates: [] });
    expect(lines[0]?.msg).toContain(`Access file ${path} does not exist`);
    writeFileSync(path, GRANT);
    await holder.reload();
    expect(holder.current().tokens.map((token) => token.name)).toEqual(['a']);
  });

  it('stops fleetd when the file is wrong at start', async () => {
    writeFileSync(path, '{"tokens":[{"name":"a"}]}');
    await expect(new AccessFileHolder(path, log()).loadAtStart()).rejects.toThrow(
      `access file ${path}: tokens[0].sha256:`,
    );
  });

  it('keeps the grants it had when a reload finds the file broken or gone', async () => {
    writeFileSync(path, GRANT);
    const holder = new AccessFileHolder(path, log());
    await holder.loadAtStart();
    const before = holder.current();
    writeFileSync(path, '{"tokens":[{"name":"a","sha256":"x","role":"read"}]}');
    await holder.reload();
    rmSync(path);
    await holder.reload();
    expect(holder.current()).toBe(before);
    expect(lines.filter((line) => line.level === 50).map((line) => line.msg)).toEqual([
      expect.stringContaining(`access file ${path}: tokens[0].sha256:`),
      expect.stringContaining(path),
    ]);
  });
});
