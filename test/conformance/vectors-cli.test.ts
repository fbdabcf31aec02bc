import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkVector, vectorFileSchema } from '../../src/conformance/vectors.js';

const run = promisify(execFile);
const recordedVectors = join(import.meta.dirname, '../fixtures/conformance/vectors.json');
const workDir = mkdtempSync(join(tmpdir(), 'fleet-vectors-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const goodName = {
  kind: 'unitname',
  id: 'name-ok',
  input: 'foo.service',
  expected: {
    valid: true,
    validateNameError: null,
    nameInfo: {
      fullName: 'foo.service',
      name: 'foo',
      prefix: 'foo',
      instance: '',
      template: '',
      isInstance: false,
      isTemplate: false,
    },
    recognizedUnitType: true,
    fleetctlMangled: 'foo.service',
  },
};

/** The built CLI: the test script compiles `dist/` before running the suites. */
const cli = join(import.meta.dirname, '../../dist/conformance/vectors-cli.js');

async function runCli(vectors?: unknown): Promise<{ code: number; stdout: string }> {
  const args = [cli];
  if (vectors !== undefined) {
    const file = join(workDir, `vectors-${Math.random().toString(16).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(vectors));
    args.push(file);
  }
  try {
    const { stdout } = await run(process.execPath, args);
    return { code: 0, stdout };
  } catch (err) {
    const failure = err as { code: number; stdout: string };
    return { code: failure.code, stdout: failure.stdout };
  }
}

describe('conformance vector checker', () => {
  it('passes a vector whose every field matches', () => {
    const [vector] = vectorFileSchema.parse([goodName]);
    expect(checkVector(vector!)).toEqual([]);
  });

  it('names each field that differs from the recorded value', () => {
    const wrong = {
      ...goodName,
      expected: { ...goodName.expected, fleetctlMangled: 'bar.service' },
    };
    const [vector] = vectorFileSchema.parse([wrong]);
    expect(checkVector(vector!)).toEqual([
      { field: 'fleetctlMangled', expected: 'bar.service', actual: 'foo.service' },
    ]);
  });

  it('reads the recorded vectors file with its schema', () => {
    const vectors = vectorFileSchema.parse(JSON.parse(readFileSync(recordedVectors, 'utf8')));
    expect(vectors.length).toBeGreaterThan(200);
  });

  it('checks the recorded vectors in the repository when given no file', async () => {
    const result = await runCli();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+ passed, 0 failed\n$/m);
  });

  it('ends with the count line and exits 0 when every vector passes', async () => {
    const result = await runCli([goodName, goodName]);
    expect(result).toEqual({ code: 0, stdout: '2 passed, 0 failed\n' });
  });

  it('exits 1 and counts the failure when a vector differs', async () => {
    const wrong = {
      ...goodName,
      id: 'name-wrong',
      expected: { ...goodName.expected, valid: false },
    };
    const result = await runCli([goodName, wrong]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAIL unitname name-wrong: valid');
    expect(result.stdout.endsWith('1 passed, 1 failed\n')).toBe(true);
  });

  it('refuses a file that is not a vectors file with a clear message', async () => {
    const result = await runCli({ not: 'a list' });
    expect(result.code).toBe(2);
  });
});
