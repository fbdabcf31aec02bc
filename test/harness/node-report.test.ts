import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { diagnoseHungNode, reportOnSignalOptions } from '../../harness/node-report.js';
import { run } from '../../harness/proc.js';

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

// A process that never ends: a server nobody connects to, waiting in a function of its own.
const HANGING = `
const { createServer } = require('node:net');
function waitForever() { createServer().listen(0, '127.0.0.1'); }
waitForever();
`;

describe('a Node process killed past its deadline', () => {
  it('says what kept it alive before it is killed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'node-report-test-'));
    dirs.push(dir);
    const result = await run([process.execPath, '-e', HANGING], {
      timeoutMs: 1_000,
      env: { ...process.env, NODE_OPTIONS: reportOnSignalOptions(dir) },
      onTimeout: (pid) => diagnoseHungNode(pid, dir),
    });
    expect(result.timedOut).toBe(true);
    expect(result.stderr).toContain('[hung past its deadline; what kept it alive]');
    expect(result.stderr).toMatch(/\n {2}tcp "127\.0\.0\.1:\d+"|\n {2}tcp .*127\.0\.0\.1/);
    // The report is read and removed.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('says so when the process writes no report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'node-report-test-'));
    dirs.push(dir);
    // It handles the signal itself, so it neither writes a report nor dies of it.
    const deaf = `process.on('SIGUSR2', () => {});${HANGING}`;
    const result = await run([process.execPath, '-e', deaf], {
      timeoutMs: 1_000,
      onTimeout: (pid) => diagnoseHungNode(pid, dir, 300),
    });
    expect(result.timedOut).toBe(true);
    expect(result.stderr).toMatch(/\[hung: no diagnostic report from pid \d+\]/);
  });
});
