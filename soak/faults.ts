// Injecting the planned faults into a running cluster. Each resolves once the fault is over
// (undone, or the machine back) and returns what happened, with times, for the explanations.
import { type Cluster, type ClusterMachine, waitFor } from '../cluster/index.js';
import type { FaultRecord } from './explain.js';
import { observeRegistry } from './observe.js';
import type { FaultPlan } from './plan.js';

export interface Injected {
  record: FaultRecord;
  /** What happened, for the `fault <kind> …` line. */
  detail: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The ID of the lease a machine's presence hangs on, or undefined. */
async function presenceLease(cluster: Cluster, id: string): Promise<string | undefined> {
  return (await observeRegistry(cluster)).machines[id];
}

/** Until the machine's fleetd holds its presence on a lease other than `old`. */
async function registeredAnew(cluster: Cluster, m: ClusterMachine, old: string | undefined) {
  await waitFor(
    `${m.name} registered on a new lease`,
    () => presenceLease(cluster, m.id),
    (lease) => lease !== undefined && lease !== old,
    { timeoutMs: cluster.patienceMs },
  );
}

/**
 * Injects a fault; `during` (the workload's operations while it holds, sent through a machine
 * it does not hit) runs alongside.
 */
export async function inject(
  cluster: Cluster,
  fault: FaultPlan,
  during: (spare: string | undefined) => Promise<void>,
): Promise<Injected> {
  const ttl = cluster.agentTtlMs;
  const startMs = Date.now();
  const done = (detail: string, extra: Partial<FaultRecord> = {}): Injected => ({
    record: { kind: fault.kind, startMs, endMs: Date.now(), ...extra },
    detail,
  });
  if (fault.kind === 'etcd-restart') {
    await cluster.restartEtcdMember(Number(fault.target));
    await during(undefined);
    return done(`member ${cluster.etcdMember(Number(fault.target)).name} stopped and started`);
  }
  if (fault.kind === 'etcd-leader-move') {
    const from = (await cluster.etcdLeader()).name;
    const to = (await cluster.moveEtcdLeader()).name;
    await during(undefined);
    return done(`from ${from} to ${to}`);
  }
  const m = cluster.machine(fault.target);
  const machine = m.name;
  switch (fault.kind) {
    case 'fleetd-kill': {
      const lease = await presenceLease(cluster, m.id);
      const pid = await cluster.fleetdPid(m);
      const killedMs = Date.now();
      await cluster.signalFleet(m, 'KILL');
      await waitFor(
        'fleetd dead',
        () => cluster.fleetdPid(m),
        (p) => p !== pid,
        {
          timeoutMs: 10_000,
        },
      );
      // restart, not start: a start would wait out the crashed service's RestartSec.
      await cluster.restartFleet(m);
      await registeredAnew(cluster, m, lease);
      const absentMs = Date.now() - killedMs;
      await during(machine);
      return done(`SIGKILL, started again, registered after ${(absentMs / 1000).toFixed(1)}s`, {
        machine,
        absentMs,
      });
    }
    case 'fleetd-restart': {
      const lease = await presenceLease(cluster, m.id);
      await cluster.restartFleet(m);
      await registeredAnew(cluster, m, lease);
      await during(machine);
      return done('systemctl restart fleet (graceful: purges its units)', { machine });
    }
    case 'dbus-restart':
      await cluster.execOk(m, ['systemctl', 'restart', 'dbus']);
      await during(machine);
      return done('systemctl restart dbus', { machine });
    case 'daemon-reexec':
      await cluster.execOk(m, ['systemctl', 'daemon-reexec']);
      await during(machine);
      return done('systemctl daemon-reexec', { machine });
    case 'sighup':
      await cluster.signalFleet(m, 'HUP');
      await during(machine);
      return done('SIGHUP to fleetd', { machine });
    case 'partition': {
      const holdMs = fault.holdTtl * ttl;
      await cluster.cutEtcd(m);
      try {
        await Promise.all([sleep(holdMs), during(machine)]);
      } finally {
        await cluster.restoreEtcd(m);
      }
      const absentMs = Date.now() - startMs;
      const length = holdMs < ttl ? 'shorter' : 'longer';
      return done(`cut off etcd for ${(absentMs / 1000).toFixed(1)}s (${length} than agent_ttl)`, {
        machine,
        absentMs,
      });
    }
    case 'power-off': {
      const id = m.id;
      await cluster.kill(m);
      await Promise.all([sleep(fault.holdTtl * ttl), during(machine)]);
      await cluster.replace(machine, { machineId: id });
      const offMs = Date.now() - startMs;
      return done(`off for ${(offMs / 1000).toFixed(1)}s, booted again with the same machine ID`, {
        machine,
      });
    }
    case 'machine-replace': {
      const old = m.id;
      const next = await cluster.replace(m);
      await during(machine);
      return done(`machine ${old.slice(0, 8)} replaced by ${next.id.slice(0, 8)}`, { machine });
    }
  }
}
