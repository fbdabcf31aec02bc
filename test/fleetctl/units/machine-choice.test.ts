import { describe, expect, it } from 'vitest';
import { chooseMachine, targetMachine } from '../../../src/fleetctl/units/machine-choice.js';
import { FakeCluster } from '../fake-cluster.js';

const A = 'aa11000000000000000000000000000a';
const B = 'aa22000000000000000000000000000b';

describe('the machine --machine names', () => {
  it('takes a full ID, a unique prefix, or the short form list-machines prints', async () => {
    const cluster = FakeCluster.withMachines({ [A]: 'r1', [B]: 'r2' });
    expect(await chooseMachine(cluster, B)).toBe(B);
    expect(await chooseMachine(cluster, 'aa1')).toBe(A);
    expect(await chooseMachine(cluster, 'aa220000...')).toBe(B);
  });

  it("refuses a prefix of several machines or of none, in ssh --machine's words", async () => {
    const cluster = FakeCluster.withMachines({ [A]: 'r1', [B]: 'r2' });
    await expect(chooseMachine(cluster, 'aa')).rejects.toThrow('found more than one machine');
    await expect(chooseMachine(cluster, 'bb')).rejects.toThrow('machine does not exist');
  });
});

describe('where a command for a unit runs', () => {
  it("a global unit: the chosen machine, or nowhere when none is chosen (fleet's behaviour)", () => {
    expect(targetMachine({ name: 'g.service' }, true, A)).toEqual({ machineID: A });
    expect(targetMachine({ name: 'g.service' }, true, null)).toBeNull();
  });

  it('another unit: its own machine, which a chosen machine must be', () => {
    const unit = { name: 'u.service', machineID: A };
    expect(targetMachine(unit, false, null)).toEqual({ machineID: A });
    expect(targetMachine(unit, false, A)).toEqual({ machineID: A });
    expect(targetMachine(unit, false, B)).toEqual({
      error: `Unit u.service is not on machine ${B}.`,
    });
  });
});
