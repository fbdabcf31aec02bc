import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** The modules a static `import … from '…'` names (not `import type`, not `import()`). */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const match of text.matchAll(/^import\s+(?!type\s)(?:[^'";]*?\s+from\s+)?'([^']+)';/gms)) {
    specifiers.push(match[1] ?? '');
  }
  return specifiers;
}

/** Every package fleetctl loads before its command's own module is imported. */
function packagesLoadedAtStart(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) {
        visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
        continue;
      }
      packages.add(specifier.split('/')[0] ?? specifier);
    }
  };
  visit(entry);
  return packages;
}

describe("fleetctl's cold start", () => {
  it('imports no package before a command runs: zod, etcd3 and the rest wait for the commands that use them', () => {
    // commander is required as CommonJS (src/fleetctl/args/help.ts), which this walk skips.
    expect([...packagesLoadedAtStart(`${SRC}/fleetctl/main.ts`)]).toEqual([]);
  });

  it('finds the packages a module imports, through the modules it imports', () => {
    expect([...packagesLoadedAtStart(`${SRC}/client/rollouts.ts`)]).toContain('zod');
  });
});
