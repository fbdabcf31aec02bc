import { describe, expect, it } from 'vitest';
import { type OrderedJob, runInOrder } from '../../src/fleetctl/units/ordered-jobs.js';
import { BufferedOutput } from './buffered-output.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A job on one name that waits for `release` before finishing, writing `text` to stdout. */
function job(
  name: string,
  log: string[],
  opts: { release?: Promise<void>; fail?: string; reads?: string[] } = {},
): OrderedJob<string> {
  return {
    reads: opts.reads ?? [],
    writes: [name],
    run: async (turn) => {
      log.push(`start ${name}`);
      turn.output.stdout.write(`${name} prepared\n`);
      await opts.release;
      if (opts.fail !== undefined) throw new Error(opts.fail);
      await turn.mayWrite();
      log.push(`write ${name}`);
      turn.output.stdout.write(`${name} written\n`);
      return name;
    },
  };
}

describe('runInOrder', () => {
  it('replays each job output in job order, whatever order the jobs finish in', async () => {
    const gates = [deferred(), deferred(), deferred()];
    const out = new BufferedOutput();
    const err = new BufferedOutput();
    const results: string[] = [];
    const log: string[] = [];
    const running = runInOrder(
      ['a', 'b', 'c'].map((name, i) => job(name, log, { release: gates[i]!.promise })),
      { limit: 3, stdout: out, stderr: err, onResult: (name) => results.push(name) },
    );
    await tick();
    gates[2]!.resolve();
    gates[1]!.resolve();
    await tick();
    expect(out.text).toBe('');
    gates[0]!.resolve();
    await running;
    expect(out.text).toBe('a prepared\na written\nb prepared\nb written\nc prepared\nc written\n');
    expect(results).toEqual(['a', 'b', 'c']);
  });

  it('runs at most `limit` jobs at once', async () => {
    const gate = deferred();
    const log: string[] = [];
    const running = runInOrder(
      ['a', 'b', 'c', 'd'].map((name) => job(name, log, { release: gate.promise })),
      { limit: 2, stdout: new BufferedOutput(), stderr: new BufferedOutput(), onResult: () => {} },
    );
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    gate.resolve();
    await running;
    expect(log.filter((line) => line.startsWith('start'))).toHaveLength(4);
  });

  it('starts a job on a name only after the earlier job on that name is done', async () => {
    const gate = deferred();
    const log: string[] = [];
    const running = runInOrder(
      [
        job('a', log, { release: gate.promise }),
        job('b', log),
        job('a', log),
        job('c', log, { reads: ['b'] }),
      ],
      { limit: 4, stdout: new BufferedOutput(), stderr: new BufferedOutput(), onResult: () => {} },
    );
    await tick();
    await tick();
    // b shares no name with a; the second a waits for the first, c for b, which reads it.
    expect(log).toEqual(['start a', 'start b']);
    gate.resolve();
    await running;
    expect(log.indexOf('start a', 1)).toBeGreaterThan(log.indexOf('write a'));
    expect(log.indexOf('start c')).toBeGreaterThan(log.indexOf('write b'));
  });

  it('after a failing job, writes nothing more and throws its error once all are done', async () => {
    const gate = deferred();
    const log: string[] = [];
    const out = new BufferedOutput();
    const results: string[] = [];
    const running = runInOrder(
      [
        job('a', log),
        job('b', log, { release: gate.promise, fail: 'b broke' }),
        job('c', log),
        job('d', log),
      ],
      { limit: 4, stdout: out, stderr: new BufferedOutput(), onResult: (n) => results.push(n) },
    );
    await tick();
    // c and d are prepared, but may not write before b got as far as its own write.
    expect(log).not.toContain('write c');
    gate.resolve();
    await expect(running).rejects.toThrow('b broke');
    expect(log.filter((line) => line.startsWith('write'))).toEqual(['write a']);
    expect(out.text).toBe('a prepared\na written\nb prepared\n');
    expect(results).toEqual(['a']);
  });
});
