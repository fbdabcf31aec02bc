import { describe, expect, it } from 'vitest';
import { faultCauses, mayLoseLease, workloadCauses } from '../../soak/explain.js';
import { Catalogue } from '../../soak/units.js';

describe('causes of expected disruptions', () => {
  const catalogue = new Catalogue(3);

  it('an operation explains its units from when it was sent until the check, and their MachineOf followers', () => {
    const causes = workloadCauses(
      [
        {
          atMs: 100,
          op: {
            kind: 'submit',
            units: ['soak-pair-0-a.service'],
            version: 2,
            desired: 'launched',
            via: 'api',
          },
        },
      ],
      catalogue,
      900,
    );
    expect(causes.map((c) => [c.unit, c.machine, c.fromMs, c.toMs])).toEqual([
      ['soak-pair-0-a.service', undefined, 100, 900],
      ['soak-pair-0-b.service', undefined, 100, 900],
    ]);
  });

  it('the loss of a machine, or a graceful stop of its fleetd, explains that machine only', () => {
    const causes = faultCauses(
      [
        { kind: 'power-off', machine: 'm1', startMs: 10, endMs: 20 },
        { kind: 'machine-replace', machine: 'm2', startMs: 30, endMs: 40 },
        { kind: 'fleetd-restart', machine: 'm3', startMs: 50, endMs: 60 },
      ],
      3_000,
      100,
    );
    expect(causes.map((c) => [c.machine, c.unit, c.fromMs, c.toMs])).toEqual([
      ['m1', undefined, 10, 100],
      ['m2', undefined, 30, 100],
      ['m3', undefined, 50, 100],
    ]);
  });

  it('a partition or a dead fleetd explains only when it lasted long enough for the lease to expire', () => {
    const ttl = 3_000;
    expect(mayLoseLease(900, ttl)).toBe(false);
    expect(mayLoseLease(7_500, ttl)).toBe(true);
    const causes = faultCauses(
      [
        { kind: 'partition', machine: 'm1', startMs: 0, endMs: 900, absentMs: 900 },
        { kind: 'partition', machine: 'm2', startMs: 0, endMs: 7_500, absentMs: 7_500 },
        { kind: 'fleetd-kill', machine: 'm3', startMs: 0, endMs: 1_200, absentMs: 1_200 },
      ],
      ttl,
      10_000,
    );
    expect(causes.map((c) => c.machine)).toEqual(['m2']);
  });

  it('D-Bus and systemd restarts, SIGHUP and etcd faults explain nothing', () => {
    const kinds = [
      'dbus-restart',
      'daemon-reexec',
      'sighup',
      'etcd-restart',
      'etcd-leader-move',
    ] as const;
    expect(
      faultCauses(
        kinds.map((kind) => ({ kind, machine: 'm1', startMs: 0, endMs: 1 })),
        3_000,
        10,
      ),
    ).toEqual([]);
  });
});
