// vitest globalSetup for the functional suite: removes what crashed earlier runs left behind
// (harnesses whose owner process is gone) before the run, and checks again after it.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cleanScript = join(dirname(fileURLToPath(import.meta.url)), 'clean.sh');

function cleanStale(when: string): void {
  if (process.getuid?.() !== 0) return;
  const r = spawnSync('/bin/sh', [cleanScript], { encoding: 'utf8', timeout: 60_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (out !== '') process.stderr.write(`[fleetfn harness] ${when}:\n${out}\n`);
}

export default function setup(): () => void {
  cleanStale('removed leftovers of an earlier run');
  return () => cleanStale('removed leftovers of this run (a worker died without cleaning up)');
}
