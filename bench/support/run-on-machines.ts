import { type Libraries, loadLibraries } from './real-machines.js';
import { progressLog, writeResults } from './results.js';

/** A benchmark on machines of the functional harness, as `runOnMachines` drives it. */
export interface MachineBenchmark {
  readonly resultsDir: string;
  readonly results: { notes: string[] };
  run(): Promise<void>;
  /** Removes every machine, network and etcd the benchmark made. */
  cleanup(): Promise<void>;
  report(): string;
}

/**
 * Runs one benchmark: skipped (exit 0) where the harness cannot boot machines; a failure is
 * noted in the report rather than crashing it; the machines are always removed; the results
 * are written and the report printed. Resolves with the exit status.
 */
export async function runOnMachines(
  name: string,
  create: (libraries: Libraries) => MachineBenchmark,
): Promise<number> {
  const libraries = await loadLibraries();
  const unavailable = libraries.harness.harnessUnavailable();
  if (unavailable !== undefined) {
    process.stdout.write(`${name} benchmark skipped: ${unavailable}\n`);
    return 0;
  }
  const benchmark = create(libraries);
  try {
    await benchmark.run();
  } catch (err) {
    progressLog(name)(`benchmark failed: ${(err as Error).stack ?? String(err)}`);
    benchmark.results.notes.push(`failed: ${(err as Error).message}`);
  } finally {
    await benchmark.cleanup();
  }
  writeResults(benchmark.resultsDir, benchmark.results);
  process.stdout.write(benchmark.report());
  return 0;
}
