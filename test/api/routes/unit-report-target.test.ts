import { describe, expect, it } from 'vitest';
import { reportTarget } from '../../../src/api/routes/unit-report-target.js';

const M1 = 'a1000000000000000000000000000000';
const M2 = 'b2000000000000000000000000000000';

const placed = { name: 'web.service', global: false, machineID: M1 };
const global = { name: 'g.service', global: true, machineID: null };

describe('which machine a unit report comes from', () => {
  it('a scheduled unit reporting from its machine: that machine, with or without machine=', () => {
    expect(reportTarget(placed, 'web.service', [M1], undefined)).toEqual({ machineID: M1 });
    expect(reportTarget(placed, 'web.service', [M1], M1)).toEqual({ machineID: M1 });
  });

  it('a unit that does not exist', () => {
    expect(reportTarget(null, 'x.service', [], undefined)).toEqual({
      refusal: { status: 404, message: 'unit x.service does not exist' },
    });
  });

  it('a unit not scheduled, or whose machine reports no state for it', () => {
    const notRunning = {
      refusal: { status: 404, message: 'unit web.service is not running on any machine' },
    };
    expect(reportTarget({ ...placed, machineID: null }, 'web.service', [], undefined)).toEqual(
      notRunning,
    );
    expect(reportTarget(placed, 'web.service', [M2], undefined)).toEqual(notRunning);
  });

  it('machine= naming another machine than the unit is on', () => {
    expect(reportTarget(placed, 'web.service', [M1], M2)).toEqual({
      refusal: { status: 400, message: `unit web.service runs on machine ${M1}, not ${M2}` },
    });
  });

  it('a global unit needs machine=, a machine that reports it', () => {
    expect(reportTarget(global, 'g.service', [M1, M2], undefined)).toEqual({
      refusal: {
        status: 400,
        message: 'unit g.service is global: name a machine with machine=<ID>',
      },
    });
    expect(reportTarget(global, 'g.service', [M1, M2], M2)).toEqual({ machineID: M2 });
    expect(reportTarget(global, 'g.service', [M1], M2)).toEqual({
      refusal: { status: 404, message: `unit g.service is not running on machine ${M2}` },
    });
  });
});
