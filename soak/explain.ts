// Why units may stop or restart, derived from what the soak did: the workload's operations and
// the faults it injected, each with its time window. Pure: the checker's invariant (c) flags
// only disruptions that none of these causes explains.
import type { Cause } from './checker.js';
import type { FaultKind, Op } from './plan.js';
import type { Catalogue } from './units.js';

/** An operation the workload carried out, from when it was sent. */
export interface OpRecord {
  atMs: number;
  op: Op;
}

/** A fault as injected: when it began and when it was undone (or completed). */
export interface FaultRecord {
  kind: FaultKind;
  /** The machine it hit (by name); undefined for etcd faults. */
  machine?: string;
  startMs: number;
  endMs: number;
  /** How long the machine's fleetd or its link to etcd was gone, when that applies. */
  absentMs?: number;
}

/**
 * The causes of the disruptions the workload asked for, until `toMs` (the check that follows
 * them): an operation may stop or restart its units anywhere, and the units that follow them
 * by MachineOf move with them (a scheduling rule requires it).
 */
export function workloadCauses(
  log: readonly OpRecord[],
  catalogue: Catalogue,
  toMs: number,
): Cause[] {
  const causes: Cause[] = [];
  for (const { atMs, op } of log) {
    const seen = new Set<string>();
    const pending = [...op.units];
    while (pending.length > 0) {
      const unit = pending.shift()!;
      if (seen.has(unit)) continue;
      seen.add(unit);
      const follower = !op.units.includes(unit);
      causes.push({
        unit,
        fromMs: atMs,
        toMs,
        reason: follower ? `MachineOf follows a unit the workload changed` : `workload: ${op.kind}`,
      });
      pending.push(...catalogue.followersOf(unit));
    }
  }
  return causes;
}

/**
 * A machine's lease can expire once it has missed renewals for two thirds of agent_ttl (it
 * renews every third); past that, its units may move and its own copies be stopped.
 */
export function mayLoseLease(absentMs: number, agentTtlMs: number): boolean {
  return absentMs >= (2 * agentTtlMs) / 3;
}

/**
 * The causes of the disruptions faults may bring, until `toMs`: the loss of a machine (power-off,
 * replacement, a partition or a dead fleetd long enough for its lease to expire) and a graceful
 * stop of fleetd (which purges its units by design) disrupt that machine's units. D-Bus and
 * systemd restarts, SIGHUP and etcd faults explain nothing: units must survive them.
 */
export function faultCauses(
  log: readonly FaultRecord[],
  agentTtlMs: number,
  toMs: number,
): Cause[] {
  const causes: Cause[] = [];
  for (const f of log) {
    if (f.machine === undefined) continue;
    const lost =
      f.kind === 'power-off' ||
      f.kind === 'machine-replace' ||
      f.kind === 'fleetd-restart' ||
      ((f.kind === 'partition' || f.kind === 'fleetd-kill') &&
        mayLoseLease(f.absentMs ?? 0, agentTtlMs));
    if (!lost) continue;
    causes.push({ machine: f.machine, fromMs: f.startMs, toMs, reason: `fault ${f.kind}` });
  }
  return causes;
}
