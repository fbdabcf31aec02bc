import type { MetricsRegistry } from '../api/metrics.js';
import type { EngineMetrics } from '../engine/metrics.js';

/** The engine's series under fleet's metric names. */
export function engineMetricsOn(registry: MetricsRegistry): EngineMetrics {
  const leaderStart = registry.gauge(
    'fleet_engine_leader_start_time',
    'Unix time at which this engine last became the leader.',
  );
  const tasks = registry.counter(
    'fleet_engine_task_count_total',
    'Engine tasks carried out, by type.',
    ['type'],
  );
  const taskFailures = registry.counter(
    'fleet_engine_task_failure_count_total',
    'Engine tasks that lost a race and were not carried out, by type.',
    ['type'],
  );
  const passes = registry.counter(
    'fleet_engine_reconcile_count_total',
    'Reconcile passes completed by this engine while leading.',
  );
  const displaced = registry.counter(
    'fleet_engine_reconcile_failure_count_total',
    'Units found unable to stay where they were scheduled, by cause.',
    ['type'],
  );
  return {
    leadershipAcquired: (unixSeconds) => leaderStart.set(unixSeconds),
    passCompleted: () => passes.inc(),
    unitDisplaced: (kind) => displaced.inc({ type: kind }),
    taskApplied: (type) => tasks.inc({ type }),
    taskFailed: (type) => taskFailures.inc({ type }),
  };
}

/** Whether the agent can reach systemd: 0 while fleetd reconnects to a restarted bus. */
export function systemdMetricsOn(registry: MetricsRegistry): (connected: boolean) => void {
  const connected = registry.gauge(
    'fleet_systemd_bus_connected',
    'Whether fleetd is connected to systemd over D-Bus (1) or cut off and reconnecting (0).',
  );
  return (isConnected) => connected.set(isConnected ? 1 : 0);
}
