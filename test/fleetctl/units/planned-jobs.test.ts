import { describe, expect, it } from 'vitest';
import type { ApiUnit } from '../../../src/api/schema.js';
import type { FleetClient } from '../../../src/client/types.js';
import {
  type PlannedJob,
  runPlanned,
  segmentsOf,
} from '../../../src/fleetctl/units/planned-jobs.js';
import { BufferedOutput } from '../buffered-output.js';

/** Records batches and single writes; refuses the units named in `refuse`, as the API would in their results. */
function batchClient(refuse: ReadonlySet<string> = new Set()) {
  const batches: string[][] = [];
  const client = {
    writeUnits: async (units: readonly ApiUnit[]) => {
      batches.push(units.map((unit) => unit.name));
      return units.map((unit) => (refuse.has(unit.name) ? new Error(`no ${unit.name}`) : null));
    },
    // A single write goes as its own request.
    setUnitTargetState: async (name: string) => {
      batches.push([`single ${name}`]);
    },
  } as unknown as FleetClient;
  return { client, batches };
}

/** A job that prints its name, plans to set its unit launched, and may fail its plan. */
function job(
  name: string,
  options: { fails?: boolean; reads?: string[] } = {},
): PlannedJob<string> {
  return {
    reads: options.reads ?? [],
    writes: [name],
    plan: async (output) => {
      // Later jobs finish planning first: the order printed must not depend on it.
      await new Promise((resolve) => setTimeout(resolve, name.length));
      output.stdout.write(`planned ${name}\n`);
      if (options.fails === true) throw new Error(`cannot plan ${name}`);
      return {
        value: name,
        write: { kind: 'target', name, desiredState: 'launched' },
        written: () => output.stderr.write(`wrote ${name}\n`),
        failed: (err) => new Error(`failed ${name}: ${err.message}`),
      };
    },
  };
}

describe('cutting jobs into segments', () => {
  it('cuts before a job that touches a name an earlier job of its segment writes', () => {
    const jobs = [
      job('a'),
      job('b'),
      job('t@.service'),
      job('t@1.service', { reads: ['t@.service'] }),
      job('a'),
      job('c', { reads: ['elsewhere'] }),
    ];
    expect(segmentsOf(jobs).map((segment) => segment.map((j) => j.writes[0]))).toEqual([
      ['a', 'b', 't@.service'],
      ['t@1.service', 'a', 'c'],
    ]);
  });

  it('keeps jobs that only read the same name together', () => {
    const jobs = [job('x', { reads: ['t'] }), job('y', { reads: ['t'] })];
    expect(segmentsOf(jobs)).toHaveLength(1);
  });
});

describe('running planned jobs', () => {
  it('writes in one batch per segment and prints in job order', async () => {
    const { client, batches } = batchClient();
    const stdout = new BufferedOutput();
    const stderr = new BufferedOutput();
    const results: string[] = [];
    await runPlanned(
      { client, stdout, stderr },
      [job('ccc'), job('bb'), job('a'), job('bb')],
      (v) => results.push(v),
    );
    expect(batches).toEqual([['ccc', 'bb', 'a'], ['single bb']]);
    expect(stdout.text).toBe('planned ccc\nplanned bb\nplanned a\nplanned bb\n');
    expect(stderr.text).toBe('wrote ccc\nwrote bb\nwrote a\nwrote bb\n');
    expect(results).toEqual(['ccc', 'bb', 'a', 'bb']);
  });

  it('writes only the jobs before a failed plan, and stops with its error after its output', async () => {
    const { client, batches } = batchClient();
    const stdout = new BufferedOutput();
    const stderr = new BufferedOutput();
    const results: string[] = [];
    const run = runPlanned(
      { client, stdout, stderr },
      [job('a'), job('b'), job('c', { fails: true }), job('d')],
      (v) => results.push(v),
    );
    await expect(run).rejects.toThrow('cannot plan c');
    expect(batches).toEqual([['a', 'b']]);
    expect(stdout.text).toBe('planned a\nplanned b\nplanned c\n');
    expect(results).toEqual(['a', 'b']);
  });

  it("stops at the first failed write with the job's own message, printing nothing after it", async () => {
    const { client } = batchClient(new Set(['b', 'c']));
    const stdout = new BufferedOutput();
    const stderr = new BufferedOutput();
    const results: string[] = [];
    const run = runPlanned(
      { client, stdout, stderr },
      [job('a'), job('b'), job('c'), job('d')],
      (v) => results.push(v),
    );
    await expect(run).rejects.toThrow('failed b: no b');
    expect(stdout.text).toBe('planned a\nplanned b\n');
    expect(stderr.text).toBe('wrote a\n');
    expect(results).toEqual(['a']);
  });
});
