import { describe, expect, it } from 'vitest';
import type { ApiUnit } from '../../../src/api/schema.js';
import type { FleetClient } from '../../../src/client/types.js';
import { BatchNotServedError } from '../../../src/client/unit-batch.js';
import { NOT_SENT, type UnitWrite, writeUnits } from '../../../src/fleetctl/units/unit-writes.js';

/** A client that records its writes and fails the units named in `refuse`. */
class RecordingClient {
  readonly calls: string[] = [];
  readonly refuse = new Set<string>();
  batchServed = true;
  batchFailure: Error | null = null;

  async createUnit(unit: ApiUnit): Promise<void> {
    this.calls.push(`create ${unit.name}`);
    if (this.refuse.has(unit.name)) throw new Error(`refused ${unit.name}`);
  }

  async setUnitTargetState(name: string, state: string): Promise<void> {
    this.calls.push(`target ${name} ${state}`);
    if (this.refuse.has(name)) throw new Error(`refused ${name}`);
  }

  async writeUnits(units: readonly ApiUnit[]): Promise<Array<Error | null>> {
    this.calls.push(`batch ${units.map((u) => u.name).join(',')}`);
    if (!this.batchServed) throw new BatchNotServedError();
    if (this.batchFailure !== null) throw this.batchFailure;
    return units.map((u) => (this.refuse.has(u.name) ? new Error(`refused ${u.name}`) : null));
  }

  asClient(): FleetClient {
    return this as unknown as FleetClient;
  }
}

const create = (name: string): UnitWrite => ({
  kind: 'create',
  name,
  options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }],
});
const target = (name: string): UnitWrite => ({ kind: 'target', name, desiredState: 'launched' });
const names = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => `u${from + i}.service`);

describe('writing the units of a command', () => {
  it('sends a single write as its own request, as fleet did', async () => {
    const client = new RecordingClient();
    expect(
      await writeUnits(client.asClient(), [create('a.service')], { stopAtFailure: true }),
    ).toEqual([null]);
    expect(client.calls).toEqual(['create a.service']);
  });

  it('sends several in batches of at most 1,000, in order', async () => {
    const client = new RecordingClient();
    const all = names(2100);
    const outcomes = await writeUnits(client.asClient(), all.map(target), { stopAtFailure: true });
    expect(outcomes).toEqual(all.map(() => null));
    expect(client.calls).toEqual([
      `batch ${all.slice(0, 1000).join(',')}`,
      `batch ${all.slice(1000, 2000).join(',')}`,
      `batch ${all.slice(2000).join(',')}`,
    ]);
  });

  it('gives each unit its own outcome and sends nothing after the batch of the first failure', async () => {
    const client = new RecordingClient();
    const all = names(1500);
    client.refuse.add('u10.service');
    client.refuse.add('u20.service');
    const outcomes = await writeUnits(client.asClient(), all.map(target), { stopAtFailure: true });
    expect(outcomes[10]).toEqual(new Error('refused u10.service'));
    expect(outcomes[20]).toEqual(new Error('refused u20.service'));
    expect(outcomes.slice(1000).every((outcome) => outcome === NOT_SENT)).toBe(true);
    expect(client.calls).toHaveLength(1);
  });

  it('without stopAtFailure tries every write', async () => {
    const client = new RecordingClient();
    const all = names(1500);
    client.refuse.add('u10.service');
    const outcomes = await writeUnits(client.asClient(), all.map(target), { stopAtFailure: false });
    expect(outcomes.filter((outcome) => outcome !== null)).toEqual([
      new Error('refused u10.service'),
    ]);
    expect(client.calls).toHaveLength(2);
  });

  it("falls back to one request per unit at the original's 404, from the batch it got", async () => {
    const client = new RecordingClient();
    client.batchServed = false;
    const all = names(40);
    const outcomes = await writeUnits(client.asClient(), all.map(create), { stopAtFailure: true });
    expect(outcomes).toEqual(all.map(() => null));
    expect(client.calls[0]).toBe(`batch ${all.join(',')}`);
    expect([...client.calls.slice(1)].sort()).toEqual(all.map((name) => `create ${name}`).sort());
  });

  it('one by one, stops at the first failure, reporting it', async () => {
    const client = new RecordingClient();
    client.batchServed = false;
    client.refuse.add('u3.service');
    const all = names(100);
    const outcomes = await writeUnits(client.asClient(), all.map(create), { stopAtFailure: true });
    expect(outcomes.slice(0, 4)).toEqual([null, null, null, new Error('refused u3.service')]);
    expect(outcomes.slice(4).every((outcome) => outcome === NOT_SENT)).toBe(true);
    // Up to 32 in flight: none past those already under way when the failure came.
    expect(client.calls.filter((call) => call.startsWith('create')).length).toBeLessThanOrEqual(36);
  });

  it('uses one request per unit with a driver that has no batch path', async () => {
    const client = new RecordingClient();
    const withoutBatch = Object.assign(Object.create(client.asClient()) as FleetClient, {
      writeUnits: undefined,
    });
    await writeUnits(withoutBatch, [target('a.service'), target('b.service')], {
      stopAtFailure: false,
    });
    expect(client.calls).toEqual(['target a.service launched', 'target b.service launched']);
  });

  it('takes any other failure of a batch request for the failure of its first write', async () => {
    const client = new RecordingClient();
    client.batchFailure = new Error('Post "http://x/fleet/ext/v1/batch": connection refused');
    const outcomes = await writeUnits(client.asClient(), names(3).map(target), {
      stopAtFailure: true,
    });
    expect(outcomes).toEqual([client.batchFailure, NOT_SENT, NOT_SENT]);
  });
});
