import type { FleetClient } from '../../client/types.js';
import type { Output } from '../output.js';
import { RecordedOutput, runInOrder, UNITS_IN_FLIGHT } from './ordered-jobs.js';
import { NOT_SENT, type UnitWrite, writeUnits } from './unit-writes.js';

/** What a job decided once it had read and checked: its result, and the write it needs. */
export interface Plan<T> {
  value: T;
  write: UnitWrite | null;
  /** Its write was made; what it prints then follows what it printed while planning. */
  written?(): void;
  /** Its write failed with `error`: what the command stops with (by default `error`). */
  failed?(error: Error): Error;
}

export interface PlannedJob<T> {
  /** Names the job reads. */
  reads: readonly string[];
  /** Names the job may write. */
  writes: readonly string[];
  /** Reads and checks without writing, printing to `output`; throws to stop the command. */
  plan(output: RecordedOutput): Promise<Plan<T>>;
}

/**
 * Runs jobs with what can be observed of running them one after another, each reading, then
 * writing, but with their writes made together through the batch path (`writeUnits`).
 *
 * The jobs are cut into segments where a job reads or writes a name an earlier job of its
 * segment may write, so that no job plans before the writes it could see. A segment's jobs
 * plan up to `UNITS_IN_FLIGHT` at a time (`runInOrder`); the writes of the jobs before the
 * first failed plan are then made, in order, stopping at the first that fails; then each
 * job's output is replayed in job order, followed by `onResult`. The first failure in job
 * order, of a plan or of a write, ends the run: its output is replayed and its error thrown.
 */
export async function runPlanned<T>(
  streams: { client: FleetClient; stdout: Output; stderr: Output },
  jobs: readonly PlannedJob<T>[],
  onResult: (value: T) => void,
): Promise<void> {
  for (const segment of segmentsOf(jobs)) await runSegment(streams, segment, onResult);
}

/**
 * Cuts jobs, in order, before each job that reads or writes a name some earlier job of the
 * current segment writes.
 */
export function segmentsOf<J extends { reads: readonly string[]; writes: readonly string[] }>(
  jobs: readonly J[],
): J[][] {
  const segments: J[][] = [];
  let current: J[] = [];
  let written = new Set<string>();
  for (const job of jobs) {
    const touches = [...job.reads, ...job.writes].some((name) => written.has(name));
    if (touches) {
      segments.push(current);
      current = [];
      written = new Set();
    }
    current.push(job);
    for (const name of job.writes) written.add(name);
  }
  if (current.length > 0) segments.push(current);
  return segments;
}

async function runSegment<T>(
  { client, stdout, stderr }: { client: FleetClient; stdout: Output; stderr: Output },
  jobs: readonly PlannedJob<T>[],
  onResult: (value: T) => void,
): Promise<void> {
  const outputs = jobs.map(() => new RecordedOutput());
  const plans: Plan<T>[] = [];
  let planFailure: Error | null = null;
  try {
    await runInOrder(
      jobs.map((job, index) => ({
        reads: job.reads,
        writes: job.writes,
        run: () => job.plan(outputs[index]!),
      })),
      {
        limit: UNITS_IN_FLIGHT,
        // Each job prints to its own output, replayed once its write is made.
        stdout: { write: () => {} },
        stderr: { write: () => {} },
        onResult: (plan) => plans.push(plan),
      },
    );
  } catch (err) {
    planFailure = err as Error;
  }
  const writing = plans.flatMap((plan, index) => (plan.write === null ? [] : [index]));
  const outcomes = await writeUnits(
    client,
    writing.map((index) => plans[index]!.write!),
    { stopAtFailure: true },
  );
  const outcomeOf = new Map(writing.map((index, position) => [index, outcomes[position]!]));
  for (const [index, plan] of plans.entries()) {
    const outcome = outcomeOf.get(index) ?? null;
    if (outcome === NOT_SENT) break;
    if (outcome !== null) {
      outputs[index]!.replay(stdout, stderr);
      throw plan.failed?.(outcome) ?? outcome;
    }
    if (plan.write !== null) plan.written?.();
    outputs[index]!.replay(stdout, stderr);
    onResult(plan.value);
  }
  if (planFailure !== null) {
    outputs[plans.length]?.replay(stdout, stderr);
    throw planFailure;
  }
}
