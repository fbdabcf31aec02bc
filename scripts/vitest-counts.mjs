// Prints "<passed> <failed>" from a vitest JSON report. A test file that failed to load
// has no failing test of its own, so it counts as one failure rather than vanishing.
import { readFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.log('0 1');
  process.exit(0);
}
const brokenFiles = report.testResults.filter(
  (result) =>
    result.status === 'failed' &&
    !result.assertionResults.some((assertion) => assertion.status === 'failed'),
).length;
console.log(`${report.numPassedTests} ${report.numFailedTests + brokenFiles}`);
