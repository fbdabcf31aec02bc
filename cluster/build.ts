// Machines run fleetd and fleetctl from dist/: rebuild it when any source under src/ is newer.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../harness/index.js';

/** Sources under src/ whose compiled file in dist/ is missing or older. */
export function staleSources(): string[] {
  const stale: string[] = [];
  const src = join(REPO_ROOT, 'src');
  for (const entry of readdirSync(src, { recursive: true })) {
    const source = join(src, String(entry));
    if (!source.endsWith('.ts') || source.endsWith('.d.ts')) continue;
    const compiled = join(REPO_ROOT, 'dist', relative(src, source)).replace(/\.ts$/, '.js');
    if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) {
      stale.push(relative(REPO_ROOT, source));
    }
  }
  return stale;
}

/**
 * Runs `tsc -p tsconfig.build.json` when dist/ is stale; fails if it still is afterwards (tsc
 * emits despite type errors elsewhere, so the output files are what counts).
 */
export async function ensureFreshBuild(log?: (line: string) => void): Promise<void> {
  const before = staleSources();
  if (before.length === 0) return;
  log?.(`dist/ is older than ${before.length} source file(s); running npm run build`);
  // A source saved while tsc runs is newer than its output: build again (twice at most).
  let output = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    output = await promisify(execFile)(
      join(REPO_ROOT, 'node_modules/.bin/tsc'),
      ['-p', 'tsconfig.build.json'],
      { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
    ).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    if (staleSources().length === 0) return;
  }
  throw new Error(`dist is stale after building (${staleSources().join(', ')}):\n${output}`);
}
