import { describe, expect, it } from 'vitest';
import { deriveTimings } from '../../src/config/timings.js';

describe('deriveTimings', () => {
  it('derives fleet defaults from agent_ttl=30s and engine_reconcile_interval=2s', () => {
    expect(deriveTimings(30_000, 2_000)).toEqual({
      machinePresenceTtlMs: 30_000,
      unitStateTtlMs: 30_000,
      monitorIntervalMs: 15_000,
      monitorCheckTimeoutMs: 10_000,
      monitorRetryIntervalMs: 2_500,
      unitStateRepublishIntervalMs: 24_000,
      jobStateRefreshIntervalMs: 24_000,
      engineReconcileIntervalMs: 2_000,
      engineLeaseTtlMs: 10_000,
      restartBackoffInitialMs: 1_000,
      restartBackoffMaxMs: 15_000,
      componentShutdownTimeoutMs: 60_000,
      machineStateRefreshIntervalMs: 60_000,
      agentReconcileIntervalMs: 5_000,
      unitStatePollIntervalMs: 1_000,
      watchRearmDelayMs: 1_000,
    });
  });

  it('scales with the functional tests agent_ttl=3s', () => {
    const timings = deriveTimings(3_000, 2_000);
    expect(timings.monitorIntervalMs).toBe(1_500);
    expect(timings.monitorCheckTimeoutMs).toBe(1_000);
    expect(timings.monitorRetryIntervalMs).toBe(250);
    expect(timings.unitStateRepublishIntervalMs).toBe(1_500);
    expect(timings.jobStateRefreshIntervalMs).toBe(1_500);
    expect(timings.machinePresenceTtlMs).toBe(3_000);
  });

  it('switches refreshes from ttl/2 to ttl*4/5 just above 10s', () => {
    expect(deriveTimings(10_000, 2_000).unitStateRepublishIntervalMs).toBe(5_000);
    expect(deriveTimings(10_001, 2_000).unitStateRepublishIntervalMs).toBeCloseTo(8_000.8, 6);
  });

  it('retries registration at least every half agent_ttl, so machines are back within a new leader’s one-TTL grace after an etcd outage', () => {
    for (const ttl of [1_000, 3_000, 30_000, 120_000, 600_000]) {
      const timings = deriveTimings(ttl, 2_000);
      expect(timings.restartBackoffMaxMs).toBeLessThanOrEqual(ttl / 2);
      expect(timings.restartBackoffInitialMs).toBeLessThanOrEqual(timings.restartBackoffMaxMs);
    }
    expect(deriveTimings(3_000, 2_000).restartBackoffMaxMs).toBe(1_500);
    expect(deriveTimings(600_000, 2_000).restartBackoffMaxMs).toBe(60_000);
  });

  it('makes the engine lease five engine intervals long', () => {
    expect(deriveTimings(30_000, 500).engineLeaseTtlMs).toBe(2_500);
  });
});
