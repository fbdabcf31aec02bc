import { describe, expect, it } from 'vitest';
import {
  type DesiredUnit,
  desiredUnits,
  type LocalUnit,
  planPublications,
  planTasks,
  publishedForm,
  REASONS,
  TASK_PHASES,
} from '../../src/agent/plan.js';
import type { Requirements } from '../../src/job/types.js';
import type { RequirementsByUnit } from '../../src/placement/model.js';
import type { ScheduleEntry, UnitStateRecord } from '../../src/registry/records.js';
import { requirements } from '../support/requirements.js';

const H1 = '1'.repeat(40);
const H2 = '2'.repeat(40);

/** Requirements known for each unit named, read from body `H1`. */
function known(byName: Record<string, Requirements>): RequirementsByUnit {
  return new Map(
    Object.entries(byName).map(([name, requirements]) => [name, { hash: H1, requirements }]),
  );
}

const launched = (hash = H1): ScheduleEntry => ({ hash, desiredState: 'launched' });
const want = (
  name: string,
  targetState: DesiredUnit['targetState'],
  hash = H1,
): [string, DesiredUnit] => [name, { name, hash, targetState }];
const have = (name: string, state: LocalUnit['state'], hash = H1): [string, LocalUnit] => [
  name,
  { hash, state },
];

describe('agent: which units run here', () => {
  it('runs every unit scheduled here and every global unit whose metadata matches', () => {
    const byName: Record<string, Requirements> = {
      'a.service': requirements(),
      'g-east.service': requirements({
        global: true,
        metadata: new Map([['region', new Set(['east'])]]),
      }),
      'g-west.service': requirements({
        global: true,
        metadata: new Map([['region', new Set(['west'])]]),
      }),
    };
    const { desired } = desiredUnits({
      machine: { id: 'm1', metadata: { region: 'east' } },
      scheduled: new Map([['a.service', launched()]]),
      globals: new Map([
        ['g-east.service', launched()],
        ['g-west.service', launched()],
      ]),
      known: known(byName),
    });
    expect([...desired.keys()]).toEqual(['a.service', 'g-east.service']);
  });

  it('runs only the alphabetically first of two conflicting global units', () => {
    const conflicting = requirements({ global: true, conflicts: ['conflict-global.*'] });
    const { desired } = desiredUnits({
      machine: { id: 'm1', metadata: {} },
      scheduled: new Map(),
      globals: new Map([
        ['conflict-global.1.service', launched()],
        ['conflict-global.0.service', launched()],
      ]),
      known: known({
        'conflict-global.0.service': conflicting,
        'conflict-global.1.service': conflicting,
      }),
    });
    expect([...desired.keys()]).toEqual(['conflict-global.0.service']);
  });

  it('leaves out a global unit whose desired state is inactive, and waits for unread bodies', () => {
    const { desired, pending, missingBodies } = desiredUnits({
      machine: { id: 'm1', metadata: {} },
      scheduled: new Map([
        ['unread.service', launched(H2)],
        ['replaced.service', launched(H2)],
      ]),
      globals: new Map([['g.service', { hash: H1, desiredState: 'inactive' }]]),
      known: known({
        'g.service': requirements({ global: true }),
        'replaced.service': requirements(),
      }),
    });
    expect(desired.size).toBe(0);
    expect(pending).toEqual(['unread.service', 'replaced.service']);
    expect(missingBodies).toEqual([H2]);
  });
});

describe('agent: tasks', () => {
  // Deviation: fleet reloaded after every load too ('always reload unit files'); systemd
  // loads a new unit file on first use (functional/systemd/unit-manager.test.ts).
  it('loads and starts a newly scheduled unit without a daemon-reload', () => {
    expect(planTasks(new Map([want('a.service', 'launched')]), new Map())).toEqual([
      { type: 'LoadUnit', unitName: 'a.service', reason: 'unit scheduled here but not loaded' },
      {
        type: 'StartUnit',
        unitName: 'a.service',
        reason: 'unit currently loaded but desired state is launched',
      },
    ]);
  });

  it('reloads once after the loads when one of them needs it, such as a unit to enable', () => {
    const tasks = planTasks(
      new Map([want('a.service', 'launched'), want('b.service', 'loaded', H2)]),
      new Map(),
      new Set(),
      (load) => load.hash === H2,
    );
    expect(tasks.map((task) => `${task.type} ${'unitName' in task ? task.unitName : ''}`)).toEqual([
      'LoadUnit a.service',
      'LoadUnit b.service',
      'ReloadUnitFiles ',
      'StartUnit a.service',
    ]);
  });

  it('unloads a unit no longer scheduled here, then reloads', () => {
    expect(planTasks(new Map(), new Map([have('a.service', 'launched')]))).toEqual([
      { type: 'UnloadUnit', unitName: 'a.service', reason: 'unit loaded but not scheduled here' },
      { type: 'ReloadUnitFiles', reason: 'unit files unloaded, replaced or enabled' },
    ]);
  });

  it('replaces a unit whose content changed: unload, load, reload, start', () => {
    const tasks = planTasks(
      new Map([want('a.service', 'launched', H2)]),
      new Map([have('a.service', 'launched', H1)]),
    );
    expect(tasks.map((task) => task.type)).toEqual([
      'UnloadUnit',
      'LoadUnit',
      'ReloadUnitFiles',
      'StartUnit',
    ]);
  });

  it('stops a launched unit whose desired state became loaded, without reloading', () => {
    expect(
      planTasks(new Map([want('a.service', 'loaded')]), new Map([have('a.service', 'launched')])),
    ).toEqual([
      {
        type: 'StopUnit',
        unitName: 'a.service',
        reason: 'unit currently launched but desired state is loaded',
      },
    ]);
  });

  it('leaves a unit alone while its body is unread, rather than unloading it', () => {
    expect(
      planTasks(new Map(), new Map([have('a.service', 'launched')]), new Set(['a.service'])),
    ).toEqual([]);
  });

  it('does nothing for a unit that already matches, such as one still running after a restart', () => {
    expect(
      planTasks(new Map([want('a.service', 'launched')]), new Map([have('a.service', 'launched')])),
    ).toEqual([]);
  });

  it('orders every unload before every load, and starts last', () => {
    const tasks = planTasks(
      new Map([want('b.service', 'launched'), want('c.service', 'launched', H2)]),
      new Map([have('a.service', 'loaded'), have('c.service', 'launched', H1)]),
    );
    expect(tasks.map((task) => `${task.type} ${'unitName' in task ? task.unitName : ''}`)).toEqual([
      'UnloadUnit a.service',
      'UnloadUnit c.service',
      'LoadUnit b.service',
      'LoadUnit c.service',
      'ReloadUnitFiles ',
      'StartUnit b.service',
      'StartUnit c.service',
    ]);
  });
});

describe('agent: files found at startup that systemd does not know', () => {
  const unlinked = (name: string, state: LocalUnit['state'], hash = H1): [string, LocalUnit] => [
    name,
    { hash, state, unlinked: true },
  ];

  it('loads them again (whatever their hash), starting only what does not run', () => {
    const tasks = planTasks(
      new Map([want('a.service', 'launched'), want('b.service', 'launched', H2)]),
      new Map([unlinked('a.service', 'loaded'), unlinked('b.service', 'launched')]),
    );
    expect(tasks).toEqual([
      { type: 'LoadUnit', unitName: 'a.service', reason: REASONS.notLinked },
      { type: 'LoadUnit', unitName: 'b.service', reason: REASONS.notLinked },
      { type: 'StartUnit', unitName: 'a.service', reason: REASONS.shouldLaunch },
    ]);
  });

  it('unloads those no longer scheduled here', () => {
    expect(planTasks(new Map(), new Map([unlinked('a.service', 'loaded')]))).toEqual([
      { type: 'UnloadUnit', unitName: 'a.service', reason: REASONS.loadedNotScheduled },
      { type: 'ReloadUnitFiles', reason: REASONS.reload },
    ]);
  });
});

describe('agent: phases', () => {
  it('orders the tasks it plans phase by phase', () => {
    const tasks = planTasks(
      new Map([want('new.service', 'launched'), want('changed.service', 'loaded', H2)]),
      new Map([have('changed.service', 'launched'), have('gone.service', 'loaded')]),
    );
    const phases = tasks.map((task) => TASK_PHASES.findIndex((phase) => phase.includes(task.type)));
    expect(phases).not.toContain(-1);
    expect(phases).toEqual([...phases].sort((a, b) => a - b));
    expect(new Set(phases).size).toBe(TASK_PHASES.length);
  });
});

describe('agent: publications', () => {
  const reported = (activeState: string) => ({
    loadState: 'loaded',
    activeState,
    subState: activeState === 'active' ? 'running' : 'dead',
  });
  const record = (activeState: string, launchedState: boolean, hash = H1): UnitStateRecord => ({
    ...reported(activeState),
    hash,
    launched: launchedState,
  });

  it('publishes systemd’s view of each unit loaded here, with its hash and whether it was started', () => {
    const updates = planPublications(
      new Map([have('a.service', 'launched'), have('b.service', 'loaded', H2)]),
      new Map([
        ['a.service', reported('active')],
        ['b.service', reported('inactive')],
      ]),
      new Map(),
    );
    expect(updates).toEqual([
      { name: 'a.service', state: record('active', true) },
      { name: 'b.service', state: record('inactive', false, H2) },
    ]);
  });

  it('publishes only what changed since it was last published', () => {
    const updates = planPublications(
      new Map([have('same.service', 'launched'), have('moved.service', 'launched')]),
      new Map([
        ['same.service', reported('active')],
        ['moved.service', reported('failed')],
      ]),
      new Map([
        ['same.service', publishedForm(record('active', true))],
        ['moved.service', publishedForm(record('active', true))],
      ]),
    );
    expect(updates).toEqual([{ name: 'moved.service', state: record('failed', true) }]);
  });

  it('withdraws the state of a unit no longer loaded here, and keeps one systemd did not report', () => {
    const updates = planPublications(
      new Map([have('unreported.service', 'loaded')]),
      new Map(),
      new Map([
        ['unreported.service', publishedForm(record('active', false))],
        ['unloaded.service', publishedForm(record('active', true))],
      ]),
    );
    expect(updates).toEqual([{ name: 'unloaded.service', state: null }]);
  });
});
