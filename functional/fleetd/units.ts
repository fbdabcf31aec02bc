// Unit files and small helpers shared by the fleetd functional tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { isClean, leftovers } from '../../harness/index.js';

/** A service that runs until stopped, printing nothing. */
export function sleeper(description: string, xFleet = ''): string {
  return (
    `[Unit]\nDescription=${description}\n\n[Service]\nExecStart=/bin/sleep 3000\n` +
    (xFleet === '' ? '' : `\n[X-Fleet]\n${xFleet}\n`)
  );
}

/** fleet's fixture `hello.service`. */
export const HELLO =
  '[Unit]\nDescription=Hello World\n\n[Service]\n' +
  'ExecStart=/bin/bash -c "while true; do echo \\"Hello, World!\\"; sleep 1; done"\n';

/** fleet's fixture `conflict.N.service`: mutually conflicting units. */
export const CONFLICT =
  '[Unit]\nDescription=Test Unit\n\n[Service]\n' +
  'ExecStart=/bin/bash -c "while true; do echo Hello, World!; sleep 1; done"\n\n' +
  '[X-Fleet]\nConflicts=conflict.*.service\n';

/** fleet's fixture `pin@.service`: runs on the machine whose ID is the instance. */
export const PIN = `${sleeper('Pinned unit')}\n[X-Fleet]\nMachineID=%i\n`;

/** A host directory holding unit files for fleetctl (whose paths are relative to its cwd). */
export function unitDir(files: Record<string, string>): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fleetd-units-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function count(text: string, needle: string): number {
  return text.split('\n').filter((l) => l.includes(needle)).length;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The harness's proof that nothing of this file's machines is left on the host. */
export function expectNoLeftovers(): void {
  const left = leftovers();
  expect(left).toEqual({
    processes: [],
    mounts: [],
    netns: [],
    links: [],
    cgroups: [],
    files: [],
  });
  expect(isClean(left)).toBe(true);
}
