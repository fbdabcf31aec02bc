import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './real-machines.js';

/** A fresh `.bench-results/<name>-<time>/` folder for one run's results and logs. */
export function resultsDirectory(name: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(repoRoot, '.bench-results', `${name}-${stamp}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes `results.json` into `dir` (Maps as objects); returns its path. */
export function writeResults(dir: string, results: unknown): string {
  const path = join(dir, 'results.json');
  const serialisable = JSON.stringify(
    results,
    (_key, value: unknown) => (value instanceof Map ? Object.fromEntries(value) : value),
    2,
  );
  writeFileSync(path, serialisable);
  return path;
}

/** A line-prefixed progress logger on stderr. */
export function progressLog(name: string): (line: string) => void {
  return (line) => process.stderr.write(`[${name} ${new Date().toISOString()}] ${line}\n`);
}
