import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../error-message.js';
import { checkVector, vectorFileSchema } from './vectors.js';

/** The vectors recorded from the original fleet, kept in the repository beside the tests. */
const RECORDED_VECTORS = join(import.meta.dirname, '../../test/fixtures/conformance/vectors.json');

/**
 * `npm run conformance [-- FILE]`: checks this project against recorded unit-file,
 * option-list and unit-name vectors (the repository's own unless FILE is given), printing
 * each mismatch and a closing `N passed, M failed` line; exits 1 if any vector failed or the
 * file is unusable.
 */
function main(argv: readonly string[]): number {
  if (argv.length > 1) {
    process.stderr.write('usage: npm run conformance [-- FILE] (a vectors.json file)\n');
    return 2;
  }
  const file = argv[0] ?? RECORDED_VECTORS;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${errorMessage(err)}\n`);
    return 2;
  }
  const parsed = vectorFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    process.stderr.write(
      `${file} is not a vectors file: ${issue?.message ?? 'invalid'} at ${issue?.path.join('.') ?? ''}\n`,
    );
    return 2;
  }

  let passed = 0;
  let failed = 0;
  for (const vector of parsed.data) {
    let mismatches: ReturnType<typeof checkVector>;
    try {
      mismatches = checkVector(vector);
    } catch (err) {
      mismatches = [{ field: 'exception', expected: null, actual: (err as Error).stack }];
    }
    if (mismatches.length === 0) {
      passed++;
      continue;
    }
    failed++;
    for (const { field, expected, actual } of mismatches) {
      process.stdout.write(
        `FAIL ${vector.kind} ${vector.id}: ${field}\n  expected: ${JSON.stringify(expected)}\n  actual:   ${JSON.stringify(actual)}\n`,
      );
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
