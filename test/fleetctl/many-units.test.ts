// fleetctl handles the units of one command many at a time (src/fleetctl/units/ordered-jobs.ts):
// these pin that what it prints and writes is what handling them one by one gives.
import { describe, expect, it } from 'vitest';
import { runInProcess } from './in-process.js';
import { threeMachines, unitDirectory } from './support.js';

const TEMPLATE = '[Unit]\nDescription=web %i\n\n[Service]\nExecStart=/bin/sleep 1000\n';
const HELLO = '[Service]\nExecStart=/bin/sleep 1000\n';

describe('commands over many units', () => {
  it('start --no-block of 100 instances reports each once, in argument order', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'web@.service': TEMPLATE });
    const names = Array.from({ length: 100 }, (_, i) => `web@${i + 1}.service`);
    const result = await runInProcess(['start', '--no-block', ...names], { cluster, cwd });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    expect(lines.slice(0, 100).sort()).toEqual(names.map((n) => `Unit ${n} inactive`).sort());
    expect(lines.slice(100)).toEqual(names.map((n) => `Triggered unit ${n} start`));
  });

  it('start reads each new unit twice and its template once, then only sets target states', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'web@.service': TEMPLATE });
    const names = Array.from({ length: 50 }, (_, i) => `web@${i + 1}.service`);
    await runInProcess(['start', '--no-block', ...names], { cluster, cwd });
    const count = (call: string) => cluster.calls.filter((c) => c === call).length;
    expect(count('unit web@.service')).toBe(1);
    for (const name of names) {
      expect(count(`unit ${name}`)).toBe(2);
      expect(count(`createUnit ${name}`)).toBe(1);
      expect(count(`setUnitTargetState ${name} launched`)).toBe(1);
    }
  });

  it('a unit that cannot be created stops start before any unit after it is written', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({
      'a.service': HELLO,
      'b.service': '[Service\nExecStart=/bin/true\n',
      'c.service': HELLO,
    });
    const result = await runInProcess(
      ['start', '--no-block', 'a.service', 'b.service', 'c.service'],
      {
        cluster,
        cwd,
      },
    );
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      /^Error creating units: failed getting Unit\(b\.service\) from file: /,
    );
    expect(cluster.calls).toContain('createUnit a.service');
    expect(cluster.calls).not.toContain('createUnit c.service');
    expect(cluster.calls.filter((c) => c.startsWith('setUnitTargetState'))).toEqual([]);
  });

  it('start --no-block of the same unit twice creates and triggers it once, as one by one', async () => {
    const cluster = threeMachines();
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    const result = await runInProcess(['start', '--no-block', 'hello.service', 'hello.service'], {
      cluster,
      cwd,
    });
    expect(result).toEqual({
      exitCode: 0,
      stdout: 'Unit hello.service inactive\nTriggered unit hello.service start\n',
      stderr: '',
    });
    expect(cluster.calls.filter((c) => c.startsWith('createUnit'))).toEqual([
      'createUnit hello.service',
    ]);
  });
});
