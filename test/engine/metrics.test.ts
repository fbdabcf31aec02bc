import { describe, expect, it } from 'vitest';
import { displacementOf } from '../../src/engine/metrics.js';
import { decide } from '../../src/engine/scheduler.js';
import { machine, unit } from '../placement/helpers.js';

describe('engine metrics', () => {
  it('counts a unit displaced by its machine going away or no longer fitting it, by the task’s cause', () => {
    const tasks = decide(
      [
        unit('away.service', { on: 'gone' }),
        unit('misfit.service', { on: 'm1', metadata: { role: ['web'] } }),
        unit('stopped.service', { on: 'm1', state: 'inactive' }),
        unit('new.service'),
      ],
      [machine('m1'), machine('m2', { role: 'web' })],
    );
    const displaced = tasks.map((task) => [task.unitName, task.type, displacementOf(task.cause)]);
    expect(displaced).toEqual([
      ['away.service', 'UnscheduleUnit', 'machine_away'],
      ['misfit.service', 'UnscheduleUnit', 'run'],
      ['stopped.service', 'UnscheduleUnit', undefined],
      ['away.service', 'AttemptScheduleUnit', undefined],
      ['misfit.service', 'AttemptScheduleUnit', undefined],
      ['new.service', 'AttemptScheduleUnit', undefined],
    ]);
  });
});
