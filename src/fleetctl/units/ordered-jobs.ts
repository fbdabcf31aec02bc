import type { CommandContext } from '../context.js';
import type { Output } from '../output.js';

/**
 * How many units fleetctl handles at once in commands that handle many (`start`, `load`,
 * `submit`): enough to keep fleetd and etcd busy, few enough not to swamp them.
 */
export const UNITS_IN_FLIGHT = 32;

/** What one job wrote, in order, replayed onto the real streams when the job's turn comes. */
export class RecordedOutput {
  private readonly writes: Array<{ stream: 'stdout' | 'stderr'; data: string | Uint8Array }> = [];
  readonly stdout: Output = { write: (data) => this.writes.push({ stream: 'stdout', data }) };
  readonly stderr: Output = { write: (data) => this.writes.push({ stream: 'stderr', data }) };

  replay(stdout: Output, stderr: Output): void {
    for (const { stream, data } of this.writes) (stream === 'stdout' ? stdout : stderr).write(data);
  }
}

/** The command's context with its output (and log) going to `output` instead. */
export function recordingContext(context: CommandContext, output: RecordedOutput): CommandContext {
  const recording = Object.create(context) as CommandContext;
  return Object.assign(recording, {
    stdout: output.stdout,
    stderr: output.stderr,
    log: context.log.writingTo(output.stderr),
  });
}

/** What a job is given: its own output, and the gate before its first write. */
export interface JobTurn {
  output: RecordedOutput;
  /**
   * Resolves once every earlier job has got this far (or finished) without failing; rejects
   * when one failed, so that a job never writes to the cluster after an earlier job's error.
   * Called right before the job's first write.
   */
  mayWrite(): Promise<void>;
}

export interface OrderedJob<T> {
  /** Names the job reads: it starts once earlier jobs that write them are done. */
  reads: readonly string[];
  /** Names the job may write: it starts once earlier jobs that touch them are done. */
  writes: readonly string[];
  run(turn: JobTurn): Promise<T>;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody waits for (the jobs after a failure) is not an error of its own.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** A job that stopped at its gate because an earlier job failed. */
class Superseded extends Error {}

/**
 * Runs jobs up to `limit` at a time with what can be observed of running them one after
 * another: a job that reads a name an earlier job writes, or writes a name an earlier job
 * reads or writes, waits for that job; no job writes before every earlier job got as far as
 * its own writes; each job's output is replayed in job order once the job is done, followed
 * by `onResult`. The first failing job ends the run: its output is replayed, later jobs stop
 * at their gate, and its error is thrown once every job started has finished. Only a write
 * that fails can find later jobs' writes made (at most `limit - 1` of them) where a run one
 * by one would have stopped before them.
 */
export async function runInOrder<T>(
  jobs: readonly OrderedJob<T>[],
  options: {
    limit: number;
    stdout: Output;
    stderr: Output;
    onResult: (result: T, index: number) => void;
  },
): Promise<void> {
  const outcomes = jobs.map(() => deferred<Outcome<T>>());
  const outputs = jobs.map(() => new RecordedOutput());
  const gates = jobs.map(() => deferred<void>());
  // passed[i]: jobs 0..i all reached their gate (or finished) without failing.
  const passed: Promise<void>[] = [];
  for (const [index, gate] of gates.entries()) {
    const before = index === 0 ? Promise.resolve() : passed[index - 1]!;
    const both = Promise.all([before, gate.promise]).then(() => undefined);
    both.catch(() => {});
    passed.push(both);
  }
  const finished = outcomes.map((outcome) => outcome.promise.then(() => undefined));
  const dependencies = dependenciesOf(jobs, finished);

  let stopped = false;
  const run = async (index: number): Promise<void> => {
    const job = jobs[index]!;
    const gate = gates[index]!;
    const before = index === 0 ? Promise.resolve() : passed[index - 1]!;
    const turn: JobTurn = {
      output: outputs[index]!,
      mayWrite: () => {
        gate.resolve();
        return before.catch(() => {
          throw new Superseded();
        });
      },
    };
    try {
      await Promise.all(dependencies[index]!);
      const value = await job.run(turn);
      gate.resolve();
      outcomes[index]!.resolve({ ok: true, value });
    } catch (err) {
      gate.reject(err as Error);
      outcomes[index]!.resolve({ ok: false, error: err as Error });
    }
  };

  const started: Promise<void>[] = [];
  const starting = (async () => {
    const slots = new Set<Promise<void>>();
    for (let index = 0; index < jobs.length; index++) {
      while (slots.size >= options.limit) await Promise.race(slots);
      if (stopped) {
        // Never started: settle it for the jobs that wait on it.
        gates[index]!.reject(new Superseded());
        outcomes[index]!.resolve({ ok: false, error: new Superseded() });
        continue;
      }
      const running = run(index).finally(() => slots.delete(running));
      slots.add(running);
      started.push(running);
    }
  })();

  try {
    for (let index = 0; index < jobs.length; index++) {
      const outcome = await outcomes[index]!.promise;
      outputs[index]!.replay(options.stdout, options.stderr);
      if (!outcome.ok) {
        stopped = true;
        throw outcome.error;
      }
      options.onResult(outcome.value, index);
    }
  } finally {
    stopped = true;
    await starting;
    await Promise.all(started);
  }
}

/** For each job, the earlier jobs it must wait for, by the names they share. */
function dependenciesOf<T>(
  jobs: readonly OrderedJob<T>[],
  finished: readonly Promise<void>[],
): Promise<void>[][] {
  const lastWriter = new Map<string, number>();
  const readersSince = new Map<string, number[]>();
  return jobs.map((job, index) => {
    const after = new Set<number>();
    for (const name of job.reads) {
      const writer = lastWriter.get(name);
      if (writer !== undefined) after.add(writer);
    }
    for (const name of job.writes) {
      const writer = lastWriter.get(name);
      if (writer !== undefined) after.add(writer);
      for (const reader of readersSince.get(name) ?? []) after.add(reader);
    }
    for (const name of job.reads) {
      const readers = readersSince.get(name);
      if (readers === undefined) readersSince.set(name, [index]);
      else readers.push(index);
    }
    for (const name of job.writes) {
      lastWriter.set(name, index);
      readersSince.set(name, []);
    }
    return [...after].map((earlier) => finished[earlier]!);
  });
}
