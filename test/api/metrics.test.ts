import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../src/api/metrics.js';

describe('metrics registry', () => {
  it('renders families sorted by name, unlabelled ones from 0, labelled ones once observed', () => {
    const registry = new MetricsRegistry();
    const tasks = registry.counter('fleet_engine_task_count_total', 'Engine task count', ['type']);
    registry.counter('fleet_engine_reconcile_count_total', 'Engine reconcile count');
    const leader = registry.gauge('fleet_engine_leader_start_time', 'Leader start time');
    registry.counter('fleet_engine_task_failure_count_total', 'Failed tasks', ['type']);
    tasks.inc({ type: 'UnscheduleUnit' });
    tasks.inc({ type: 'AttemptScheduleUnit' }, 2);
    tasks.inc({ type: 'UnscheduleUnit' });
    leader.set(1_480_000_000);
    expect(registry.render()).toBe(
      [
        '# HELP fleet_engine_leader_start_time Leader start time',
        '# TYPE fleet_engine_leader_start_time gauge',
        'fleet_engine_leader_start_time 1480000000',
        '# HELP fleet_engine_reconcile_count_total Engine reconcile count',
        '# TYPE fleet_engine_reconcile_count_total counter',
        'fleet_engine_reconcile_count_total 0',
        '# HELP fleet_engine_task_count_total Engine task count',
        '# TYPE fleet_engine_task_count_total counter',
        'fleet_engine_task_count_total{type="AttemptScheduleUnit"} 2',
        'fleet_engine_task_count_total{type="UnscheduleUnit"} 2',
        '',
      ].join('\n'),
    );
  });

  it('escapes label values and help text', () => {
    const registry = new MetricsRegistry();
    registry.gauge('g', 'a\\b\nc', ['l']).set(Number.POSITIVE_INFINITY, { l: 'q"\\\n' });
    expect(registry.render()).toBe(
      '# HELP g a\\\\b\\nc\n# TYPE g gauge\ng{l="q\\"\\\\\\n"} +Inf\n',
    );
  });

  it('refuses bad names, duplicate families, wrong labels and counters going down', () => {
    const registry = new MetricsRegistry();
    expect(() => registry.counter('bad-name', 'x')).toThrow('invalid metric name');
    expect(() => registry.counter('c', 'x', ['bad-label'])).toThrow('invalid label name');
    const counter = registry.counter('c', 'x', ['type']);
    expect(() => registry.gauge('c', 'x')).toThrow('already registered');
    expect(() => counter.inc({ kind: 'a' })).toThrow('takes labels [type]');
    expect(() => counter.inc({ type: 'a' }, -1)).toThrow('cannot change by -1');
  });
});
