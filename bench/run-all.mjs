#!/usr/bin/env node
// Runs every benchmark compiled by bench/build.mjs, one after the other: each folder of
// bench/ with a main.ts is one benchmark. Arguments after `--` go to every benchmark.
// Benchmarks print their figures and never fail on timing; this exits non-zero only when a
// benchmark itself crashed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, '.bench-build', 'bench');
const benchmarks = readdirSync(join(root, 'bench'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(root, 'bench', entry.name, 'main.ts')))
  .map((entry) => entry.name)
  .sort();

let crashed = 0;
for (const name of benchmarks) {
  process.stderr.write(`\n=== bench ${name} ===\n`);
  const result = spawnSync(
    process.execPath,
    [join(built, name, 'main.js'), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      cwd: root,
    },
  );
  if (result.status !== 0) {
    crashed++;
    process.stderr.write(`bench ${name} exited with ${result.status ?? result.signal}\n`);
  }
}
process.exit(crashed === 0 ? 0 : 1);
