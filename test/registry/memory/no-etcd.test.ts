import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** A resolve hook that refuses etcd3, wherever it is imported from. */
const REFUSE_ETCD3 = `
export async function resolve(specifier, context, next) {
  if (specifier === 'etcd3' || specifier.startsWith('etcd3/')) {
    throw new Error('etcd3 imported by ' + context.parentURL);
  }
  return next(specifier, context);
}`;

/**
 * Loads `modules` in a fresh node, through the project's TypeScript hooks and a hook that
 * refuses etcd3, and evaluates them: what they import at run time is what gets loaded.
 */
function loadWithoutEtcd(modules: readonly string[]): { status: number | null; stderr: string } {
  const script = `
import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(REFUSE_ETCD3)}`)});
const repo = ${JSON.stringify(pathToFileURL(REPO).href)};
for (const module of ${JSON.stringify(modules)}) await import(new URL(module, repo));
`;
  const child = spawnSync(
    process.execPath,
    ['--import', './cluster/register.mjs', '--input-type=module', '-e', script],
    { cwd: REPO, encoding: 'utf8', timeout: 60_000 },
  );
  return { status: child.status, stderr: child.stderr };
}

describe('the in-memory twin', () => {
  it('loads with the seam and its model without loading etcd3', () => {
    const loaded = loadWithoutEtcd([
      'src/registry/memory/registry.ts',
      'src/registry/memory/store.ts',
      'src/registry/ports.ts',
      'src/registry/model.ts',
    ]);
    expect(loaded.stderr).not.toContain('etcd3 imported by');
    expect(loaded.status).toBe(0);
  });

  it('is told apart from the etcd side, which the same check refuses', () => {
    const loaded = loadWithoutEtcd(['src/registry/registry.ts']);
    expect(loaded.status).not.toBe(0);
    expect(loaded.stderr).toContain('etcd3 imported by');
  });
});
