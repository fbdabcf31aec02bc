// The probe runs the compiled manager from dist/: rebuild dist when its sources are newer.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../harness/index.js';

// src/systemd and what it imports.
const SOURCE_DIRS = ['src/systemd', 'src/unit', 'src/go'];

/** Sources under SOURCE_DIRS whose compiled file is missing or older. */
export function staleSources(): string[] {
  const stale: string[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(REPO_ROOT, dir), { recursive: true })) {
      const source = join(REPO_ROOT, dir, String(entry));
      if (!source.endsWith('.ts')) continue;
      const compiled = join(REPO_ROOT, 'dist', relative(join(REPO_ROOT, 'src'), source)).replace(
        /\.ts$/,
        '.js',
      );
      if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) {
        stale.push(relative(REPO_ROOT, source));
      }
    }
  }
  return stale;
}

/** Runs `tsc -p tsconfig.build.json` if needed; fails if dist is still stale afterwards. */
export async function ensureFreshBuild(): Promise<void> {
  if (staleSources().length === 0) return;
  // tsc emits even when other parts of the tree have type errors: judge by the output files.
  const output = await promisify(execFile)(
    join(REPO_ROOT, 'node_modules/.bin/tsc'),
    ['-p', 'tsconfig.build.json'],
    { cwd: REPO_ROOT },
  ).then(
    () => '',
    (err: { stdout?: string }) => err.stdout ?? String(err),
  );
  const stale = staleSources();
  if (stale.length > 0)
    throw new Error(`dist is stale after building (${stale.join(', ')}):\n${output}`);
}
