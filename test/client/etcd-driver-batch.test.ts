import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEtcdDriver, EtcdDriver } from '../../src/client/etcd-driver.js';
import { runFleetctl } from '../../src/fleetctl/run.js';
import { BufferedOutput } from '../fleetctl/buffered-output.js';
import { unitDirectory } from '../fleetctl/support.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';

const OPTIONS = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];
const TEMPLATE = '[Unit]\nDescription=web %i\n\n[Service]\nExecStart=/bin/sleep 1000\n';

let etcd: EtcdCluster;

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  await etcd?.stop();
});

function freshPrefix(): string {
  return `/fleetctl-batch-${randomBytes(4).toString('hex')}/`;
}

function driverAt(prefix: string): EtcdDriver {
  return createEtcdDriver({
    endpoints: etcd.endpoints,
    keyPrefix: prefix,
    requestTimeoutMs: 5_000,
    caFile: '',
    certFile: '',
    keyFile: '',
  });
}

/** The error a call threw, or null. */
async function errorOf(call: Promise<unknown>): Promise<Error | null> {
  try {
    await call;
    return null;
  } catch (err) {
    return err as Error;
  }
}

describe("the etcd driver's batch path", () => {
  it('writes each unit as its own call would, with the error that call throws', async () => {
    const batched = driverAt(freshPrefix());
    const single = driverAt(freshPrefix());
    try {
      const units = [
        { name: 'a.service', options: OPTIONS },
        { name: 'hello@.service', options: OPTIONS },
        { name: 'b.service', desiredState: 'launched' },
        { name: 'missing.service', desiredState: 'launched' },
        { name: 'hello@.service', desiredState: 'launched' },
      ];
      await batched.createUnit({ name: 'b.service', options: OPTIONS });
      await single.createUnit({ name: 'b.service', options: OPTIONS });
      // A name twice in one batch is for the caller to avoid: fleetctl never sends one.
      const [first, second] = [units.slice(0, 4), units.slice(4)];
      const errors = [...(await batched.writeUnits(first)), ...(await batched.writeUnits(second))];
      const own = [
        await errorOf(single.createUnit(units[0]!)),
        await errorOf(single.createUnit(units[1]!)),
        await errorOf(single.setUnitTargetState('b.service', 'launched')),
        await errorOf(single.setUnitTargetState('missing.service', 'launched')),
        await errorOf(single.setUnitTargetState('hello@.service', 'launched')),
      ];
      expect(errors.map((error) => error?.message ?? null)).toEqual(
        own.map((error) => error?.message ?? null),
      );
      expect(errors.map((error) => error?.name ?? null)).toEqual([
        null,
        null,
        null,
        'UnitNotFoundError',
        'Error',
      ]);
      const summary = (units: Awaited<ReturnType<EtcdDriver['units']>>) =>
        units.map(({ name, desiredState }) => `${name} ${desiredState}`);
      expect(summary(await batched.units())).toEqual(summary(await single.units()));
      expect(summary(await batched.units())).toEqual([
        'a.service inactive',
        'b.service launched',
        'hello@.service inactive',
      ]);
    } finally {
      await batched.close();
      await single.close();
    }
  });

  it('takes fleetctl --driver etcd start of 1,100 units in ceil(1,100 / 1,000) batches each', async () => {
    const prefix = freshPrefix();
    const cwd = await unitDirectory({ 'web@.service': TEMPLATE });
    const names = Array.from({ length: 1100 }, (_, i) => `web@${i + 1}.service`);
    const writes = vi.spyOn(EtcdDriver.prototype, 'writeUnits');
    const creates = vi.spyOn(EtcdDriver.prototype, 'createUnit');
    const stdout = new BufferedOutput();
    const stderr = new BufferedOutput();
    try {
      const exitCode = await runFleetctl({
        argv: [
          '--driver',
          'etcd',
          '--endpoint',
          etcd.endpoints.join(','),
          '--etcd-key-prefix',
          prefix,
          'start',
          '--no-block',
          ...names,
        ],
        env: {},
        cwd,
        stdin: Readable.from([]),
        stdout,
        stderr,
        localMachineId: async () => null,
      });
      expect({ exitCode, stderr: stderr.text }).toEqual({ exitCode: 0, stderr: '' });
      expect(writes.mock.calls.map(([units]) => units.length)).toEqual([1000, 100, 1000, 100]);
      expect(creates).not.toHaveBeenCalled();
      expect(stdout.text.split('\n').slice(1100, -1)).toEqual(
        names.map((name) => `Triggered unit ${name} start`),
      );
    } finally {
      writes.mockRestore();
      creates.mockRestore();
    }
    const driver = driverAt(prefix);
    try {
      const units = await driver.units();
      expect(units).toHaveLength(1100);
      expect(units.every((unit) => unit.desiredState === 'launched')).toBe(true);
    } finally {
      await driver.close();
    }
  }, 120_000);
});
