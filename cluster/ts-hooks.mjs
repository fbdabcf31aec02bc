// Module customisation hooks: resolve `./x.js` to `./x.ts` when only the TypeScript exists (the
// NodeNext import style of this project), and strip types from `.ts` files with TypeScript's
// transpileModule. The project is `isolatedModules` + `verbatimModuleSyntax`, so per-file
// transpilation is exact. Results are cached by content under node_modules/.cache, so the
// compiler is only loaded when a file changed.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(repoRoot, 'node_modules', '.cache', 'fleet-cluster-ts');
const require = createRequire(import.meta.url);
/** @type {import('typescript') | undefined} */
let ts;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const parent = context.parentURL;
    if (
      err?.code === 'ERR_MODULE_NOT_FOUND' &&
      specifier.endsWith('.js') &&
      (specifier.startsWith('./') || specifier.startsWith('../')) &&
      parent?.startsWith('file:')
    ) {
      const url = new URL(`${specifier.slice(0, -3)}.ts`, parent);
      if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
    }
    throw err;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const source = await readFile(path, 'utf8');
  return { format: 'module', source: await transpile(source, path), shortCircuit: true };
}

async function transpile(source, path) {
  const key = createHash('sha1').update(path).update('\0').update(source).digest('hex');
  const cached = join(cacheDir, `${key}.js`);
  try {
    return await readFile(cached, 'utf8');
  } catch {
    // not cached yet
  }
  ts ??= require('typescript');
  const out = ts.transpileModule(source, {
    fileName: path,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      inlineSourceMap: true,
      inlineSources: false,
    },
  }).outputText;
  try {
    await mkdir(cacheDir, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    await writeFile(tmp, out);
    await rename(tmp, cached);
  } catch {
    // a read-only checkout: run uncached
  }
  return out;
}
