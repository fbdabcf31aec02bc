/**
 * The intervals fleet v1.0 derived from `agent_ttl` and `engine_reconcile_interval`, or fixed
 * in code. Tests shrink `agent_ttl` to 3s, so everything tied to it must scale with it.
 * Values are milliseconds and may be fractional (10s / 3).
 */

/** At or below this TTL, fleet refreshed unit states at ttl/2 rather than ttl*4/5. */
const SHORT_TTL_MS = 10_000;

export interface FleetTimings {
  /** TTL of the machine presence key. */
  machinePresenceTtlMs: number;
  /** TTL of published unit states and `job-state` heartbeats. */
  unitStateTtlMs: number;
  /** How often the monitor checks that the presence heartbeat still succeeds. */
  monitorIntervalMs: number;
  /** How long one monitor check keeps retrying before fleetd restarts its components. */
  monitorCheckTimeoutMs: number;
  /** Delay between heartbeat attempts within one monitor check. */
  monitorRetryIntervalMs: number;
  /** How often every cached unit state is written again to refresh its TTL. */
  unitStateRepublishIntervalMs: number;
  /** How often `job-state` is rewritten for each launched unit. */
  jobStateRefreshIntervalMs: number;
  engineReconcileIntervalMs: number;
  /** TTL of the engine leader lease. */
  engineLeaseTtlMs: number;
  /** First delay after a failed machine registration; doubles on each failure. */
  restartBackoffInitialMs: number;
  /**
   * Longest delay between registration attempts: half agent_ttl, at most 60 s (fleet's fixed
   * cap). A new engine leader waits one TTL for absent machines before moving their units, so
   * after an etcd outage every machine must be back within that; with fleet's 60 s a machine
   * that had backed off long missed it and had its units stopped (fleet #1289).
   */
  restartBackoffMaxMs: number;
  /** How long a monitor-triggered restart waits for components to stop. */
  componentShutdownTimeoutMs: number;
  /** How often machine ID and detected IP are read again. */
  machineStateRefreshIntervalMs: number;
  agentReconcileIntervalMs: number;
  /** How often systemd is asked for the states of the units fleet loaded. */
  unitStatePollIntervalMs: number;
  /** Pause after each etcd watch event before watching again. */
  watchRearmDelayMs: number;
}

export function deriveTimings(agentTtlMs: number, engineReconcileIntervalMs: number): FleetTimings {
  const refreshMs = agentTtlMs <= SHORT_TTL_MS ? agentTtlMs / 2 : (agentTtlMs * 4) / 5;
  return {
    machinePresenceTtlMs: agentTtlMs,
    unitStateTtlMs: agentTtlMs,
    monitorIntervalMs: agentTtlMs / 2,
    monitorCheckTimeoutMs: agentTtlMs / 3,
    // fleet retries four times within the check timeout: ttl/3/4.
    monitorRetryIntervalMs: agentTtlMs / 12,
    unitStateRepublishIntervalMs: refreshMs,
    jobStateRefreshIntervalMs: refreshMs,
    engineReconcileIntervalMs,
    engineLeaseTtlMs: 5 * engineReconcileIntervalMs,
    restartBackoffInitialMs: Math.min(1_000, agentTtlMs / 2),
    restartBackoffMaxMs: Math.min(60_000, agentTtlMs / 2),
    componentShutdownTimeoutMs: 60_000,
    machineStateRefreshIntervalMs: 60_000,
    agentReconcileIntervalMs: 5_000,
    unitStatePollIntervalMs: 1_000,
    watchRearmDelayMs: 1_000,
  };
}
