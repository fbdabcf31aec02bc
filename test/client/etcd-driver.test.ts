import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEtcdDriver,
  type EtcdDriver,
  UnitNotFoundError,
} from '../../src/client/etcd-driver.js';
import { isUnitNotFound } from '../../src/fleetctl/commands/destroy.js';
import { runFleetctl } from '../../src/fleetctl/run.js';
import { RegistryKeys } from '../../src/registry/keys.js';
import { encodeRecord } from '../../src/registry/records.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { BufferedOutput } from '../fleetctl/buffered-output.js';
import { UNITS_DIR } from '../fleetctl/golden-replay.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';

const MACHINE = 'd5c5835ccd5f4d1f80e9ddf721ceaaba';
const HELLO = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');
const GLOBAL = UnitFile.parse('[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nGlobal=true\n');

let etcd: EtcdCluster;
let raw: Etcd3;

beforeAll(async () => {
  etcd = await startEtcd();
  raw = new Etcd3(etcd.clientOptions());
});

afterAll(async () => {
  raw?.close();
  await etcd?.stop();
});

/** A fresh key prefix per test, so tests do not see each other's units. */
function freshDriver(): { driver: EtcdDriver; keys: RegistryKeys; prefix: string } {
  const prefix = `/fleetctl-test-${randomBytes(4).toString('hex')}/`;
  const driver = createEtcdDriver({
    endpoints: etcd.endpoints,
    keyPrefix: prefix,
    requestTimeoutMs: 5_000,
    caFile: '',
    certFile: '',
    keyFile: '',
  });
  return { driver, keys: new RegistryKeys(prefix), prefix };
}

async function registerMachine(keys: RegistryKeys, version: string): Promise<void> {
  await raw.put(keys.machine(MACHINE)).value(
    encodeRecord({
      id: MACHINE,
      publicIP: '10.0.0.3',
      metadata: { name: 'r3' },
      capabilities: { disableEngine: false },
      version,
      sessionToken: 'test',
    }),
  );
}

/** What the engine and the agent would write for a unit they run. */
async function runOnMachine(keys: RegistryKeys, name: string, unit: UnitFile): Promise<void> {
  await raw.put(keys.placement(name)).value(MACHINE);
  await raw.put(keys.unitState(name, MACHINE)).value(
    encodeRecord({
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      hash: unit.hash,
      launched: true,
    }),
  );
}

describe('the etcd driver over a real etcd', () => {
  it('creates units inactive and reads them back as the API shows them', async () => {
    const { driver } = freshDriver();
    try {
      await driver.createUnit({ name: 'hello.service', options: [...HELLO.options] });
      await driver.createUnit({ name: 'global.service', options: [...GLOBAL.options] });
      expect(await driver.unit('hello.service')).toEqual({
        currentState: 'inactive',
        desiredState: 'inactive',
        name: 'hello.service',
        options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }],
      });
      expect(await driver.unit('nothere.service')).toBeNull();
      // fleet's quirk: a global unit has no current state, which lists show as inactive.
      expect((await driver.unit('global.service'))?.currentState).toBeUndefined();
      const units = await driver.units();
      expect(units.map((u) => [u.name, u.currentState])).toEqual([
        ['global.service', 'inactive'],
        ['hello.service', 'inactive'],
      ]);
    } finally {
      await driver.close();
    }
  });

  it('derives current state, machine and unit states from what agents publish', async () => {
    const { driver, keys } = freshDriver();
    try {
      await registerMachine(keys, '1.0.0');
      await driver.createUnit({ name: 'hello.service', options: [...HELLO.options] });
      await driver.setUnitTargetState('hello.service', 'launched');
      expect(await driver.unit('hello.service')).toMatchObject({
        currentState: 'inactive',
        desiredState: 'launched',
      });
      await runOnMachine(keys, 'hello.service', HELLO);
      expect(await driver.unit('hello.service')).toMatchObject({
        currentState: 'launched',
        machineID: MACHINE,
      });
      const state = {
        hash: HELLO.hash,
        machineID: MACHINE,
        name: 'hello.service',
        systemdActiveState: 'active',
        systemdLoadState: 'loaded',
        systemdSubState: 'running',
      };
      expect(await driver.unitStates()).toEqual([state]);
      expect(await driver.unitState('hello.service')).toEqual(state);
      expect(await driver.unitState('nothere.service')).toBeNull();
      expect(await driver.machines()).toEqual([
        { id: MACHINE, metadata: { name: 'r3' }, primaryIP: '10.0.0.3' },
      ]);
      expect(await driver.daemonVersions()).toEqual(['1.0.0']);
    } finally {
      await driver.close();
    }
  });

  it('refuses to activate templates and reports missing units as not found', async () => {
    const { driver } = freshDriver();
    try {
      await driver.createUnit({ name: 'web@.service', options: [...HELLO.options] });
      await expect(driver.setUnitTargetState('web@.service', 'launched')).rejects.toThrow(
        'cannot activate template "web@.service"',
      );
      await driver.setUnitTargetState('web@.service', 'inactive');
      await expect(driver.setUnitTargetState('web@.service', 'running')).rejects.toThrow(
        'invalid value "running" for JobState',
      );
      const missing = await driver.destroyUnit('nothere.service').catch((err: unknown) => err);
      expect(missing).toBeInstanceOf(UnitNotFoundError);
      expect(isUnitNotFound(missing)).toBe(true);
      await expect(driver.setUnitTargetState('nothere.service', 'loaded')).rejects.toThrow(
        UnitNotFoundError,
      );
      await driver.destroyUnit('web@.service');
      expect(await driver.unit('web@.service')).toBeNull();
    } finally {
      await driver.close();
    }
  });

  it('leaves no body that no unit uses once it closed after destroys and replacements', async () => {
    const { driver, keys } = freshDriver();
    const changed = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
    try {
      await driver.createUnit({ name: 'a.service', options: [...HELLO.options] });
      await driver.createUnit({ name: 'b.service', options: [...HELLO.options] });
      await driver.destroyUnit('a.service');
      await driver.destroyUnit('b.service');
      await driver.createUnit({ name: 'c.service', options: [...HELLO.options] });
      await driver.createUnit({ name: 'c.service', options: [...changed.options] });
    } finally {
      await driver.close();
    }
    const bodies = await raw.getAll().prefix(keys.unitFilesPrefix).keys();
    expect(bodies).toEqual([keys.unitFile(changed.hash)]);
  });

  it('serves fleetctl --driver etcd end to end, warning about a newer fleetd', async () => {
    const { keys, prefix, driver } = freshDriver();
    await driver.close();
    await registerMachine(keys, '9.0.0');
    const fleetctl = async (...argv: string[]) => {
      const stdout = new BufferedOutput();
      const stderr = new BufferedOutput();
      const exitCode = await runFleetctl({
        argv: [
          '--driver',
          'etcd',
          '--endpoint',
          etcd.endpoints.join(','),
          '--etcd-key-prefix',
          prefix,
          ...argv,
        ],
        env: {},
        cwd: UNITS_DIR,
        stdin: Readable.from([]),
        stdout,
        stderr,
      });
      return { exitCode, stdout: stdout.text, stderr: stderr.text };
    };
    const warning =
      `${'#'.repeat(68)}\nWARNING: fleetctl (1.0.0) is older than the latest registered\n` +
      'version of fleet found in the cluster (9.0.0). You are strongly\n' +
      `recommended to upgrade fleetctl to prevent incompatibility issues.\n${'#'.repeat(68)}\n`;

    expect(await fleetctl('submit', 'hello.service')).toEqual({
      exitCode: 0,
      stdout: 'Unit hello.service inactive\n',
      stderr: warning,
    });
    expect(await fleetctl('list-unit-files')).toEqual({
      exitCode: 0,
      stdout:
        'UNIT\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET\nhello.service\te55c0ae\tinactive\tinactive\t-\n',
      stderr: warning,
    });
    expect((await fleetctl('cat', 'hello')).stdout).toBe(
      '[Unit]\nDescription=Hello World\n\n[Service]\nExecStart=/bin/bash -c "while true; do echo \\"Hello, world\\"; sleep 1; done"\n',
    );
    expect((await fleetctl('list-machines', '--no-legend')).stdout).toBe(
      'd5c5835c...\t10.0.0.3\tname=r3\n',
    );
    expect(await fleetctl('destroy', 'hello.service')).toMatchObject({
      exitCode: 0,
      stdout: 'Destroyed hello.service\n',
    });
  });
});
