// The npm package as an operator gets it: `npm pack`, then `npm install -g` of the tarball
// into an empty prefix, with no build step and no development dependencies.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = join(REPO, 'dist', 'fleetctl', 'main.js');
const PACKAGE = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
};
const run = promisify(execFile);

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

// Packs the dist/ that `npm run build` made (scripts/test.sh builds first); rebuilding it
// here would rewrite files other tests run. `prepack` builds on a fresh clone.
describe.skipIf(!existsSync(BUILT))('the npm package', () => {
  let dir: string;
  let packed: PackResult;
  let prefix: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-npm-package-'));
    const pack = await run(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', dir],
      { cwd: REPO, maxBuffer: 64 * 1024 * 1024 },
    );
    packed = (JSON.parse(pack.stdout) as PackResult[])[0]!;
    prefix = join(dir, 'prefix');
    // The registry is asked only for what npm's cache does not hold yet.
    await run(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        join(dir, packed.filename),
      ],
      { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
    );
  }, 180_000);

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('ships the compiled JavaScript, the commands and the units, and no sources or tests', () => {
    const paths = packed.files.map((f) => f.path);
    for (const needed of [
      'package.json',
      'bin/fleetd',
      'bin/fleetctl',
      'dist/server/main.js',
      'dist/fleetctl/main.js',
      'units/fleet.service',
      'units/fleet.socket',
    ]) {
      expect(paths).toContain(needed);
    }
    expect(paths.filter((p) => !/^(dist|bin|units)\/|^[^/]+$/.test(p))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.ts') || p.endsWith('.map'))).toEqual([]);
  });

  it('installs into an empty prefix with working fleetctl and fleetd commands', async () => {
    const env = { PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, HOME: dir };
    const fleetctl = await run(join(prefix, 'bin', 'fleetctl'), ['version'], { env });
    expect(fleetctl.stdout).toBe(`fleetctl version ${PACKAGE.version}\n`);
    const fleetd = await run(join(prefix, 'bin', 'fleetd'), ['--version'], { env });
    expect(fleetd.stdout).toBe(`fleetd version ${PACKAGE.version}\n`);
  });

  it('installs the production dependencies only', () => {
    const modules = join(prefix, 'lib', 'node_modules', PACKAGE.name, 'node_modules');
    expect(readdirSync(modules)).toEqual(expect.arrayContaining(['etcd3', 'zod']));
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    // What the lock file marks as needed by the development dependencies alone.
    const devOnly = Object.entries(lock.packages)
      .filter(
        ([path, entry]) => entry.dev === true && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path),
      )
      .map(([path]) => path.slice('node_modules/'.length));
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'vitest', '@biomejs/biome']));
    expect(devOnly.filter((name) => existsSync(join(modules, name)))).toEqual([]);
  });
});
