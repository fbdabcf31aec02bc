#!/usr/bin/env node
// Compiles the benchmarks (TypeScript under bench/, type-checked with the rest of the project
// by tsconfig.json) into .bench-build/, a gitignored folder, with the compiler options of
// tsconfig.json. Only bench/ files are root files; the src/ and test/support/ modules they
// import are compiled along with them, so a benchmark always runs the current sources, and
// `npm run build` (src/ only, into dist/) is left alone.
//
// Usage: node bench/build.mjs        (prints nothing on success)
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, '.bench-build');

function benchSources(directory) {
  const files = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) files.push(...benchSources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

const parsed = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  { noEmit: false, outDir, rootDir: root, sourceMap: true, declaration: false },
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (diagnostic) => report([diagnostic]) },
);
if (parsed === undefined) process.exit(1);

const program = ts.createProgram(benchSources(join(root, 'bench')), parsed.options);
// Files are overwritten in place, never the folder removed first: a benchmark may be running
// from it (and forking workers from it) while another is built.
const emitted = program.emit();
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
if (diagnostics.length > 0) {
  report(diagnostics);
  process.exit(1);
}

function report(diagnostics) {
  const host = {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  };
  process.stderr.write(ts.formatDiagnostics(diagnostics, host));
  process.stderr.write(`bench build failed (${relative(process.cwd(), outDir)} not usable)\n`);
}
