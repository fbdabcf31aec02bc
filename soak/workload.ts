// Carrying out the workload's operations on a cluster: through the API (the product's HTTP
// client) or through fleetctl, as the plan says. An operation that fails (etcd restarting, a
// fleetd going away) is tried again until etcd shows what it asked for.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cluster, type ClusterMachine, waitFor } from '../cluster/index.js';
import { UnitFile } from '../src/unit/unit-file.js';
import { observeRegistry } from './observe.js';
import type { Op } from './plan.js';
import type { Catalogue } from './units.js';

const FLEETCTL_COMMAND: Record<string, string[]> = {
  launched: ['start', '--no-block'],
  loaded: ['load', '--no-block'],
  inactive: ['submit'],
};
const SET_STATE_COMMAND: Record<string, string[]> = {
  launched: ['start', '--no-block'],
  loaded: ['stop', '--no-block'],
  inactive: ['unload', '--no-block'],
};

/**
 * Carries out one operation through `via`, retrying until etcd reflects it. Each failed
 * attempt is reported to `onFailedAttempt`, so that a replay shows which requests were cut
 * short and tried again.
 */
export async function perform(
  cluster: Cluster,
  catalogue: Catalogue,
  op: Op,
  via: () => ClusterMachine,
  onFailedAttempt: (machine: string, message: string) => void,
): Promise<void> {
  let lastError = '';
  await waitFor(
    `etcd to reflect ${op.kind} ${op.units.join(' ')}`,
    async () => {
      const machine = via();
      try {
        await attempt(cluster, catalogue, op, machine);
        return true;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
        onFailedAttempt(machine.name, lastError);
        return reflected(cluster, catalogue, op).catch(() => false);
      }
    },
    (done) => done,
    { timeoutMs: cluster.patienceMs, intervalMs: 1_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message} (last failure: ${lastError})`);
  });
}

async function attempt(cluster: Cluster, catalogue: Catalogue, op: Op, via: ClusterMachine) {
  if (op.via === 'fleetctl') return fleetctl(cluster, catalogue, op, via);
  const client = cluster.client(via);
  try {
    for (const name of op.units) {
      if (op.kind === 'destroy') await client.destroyUnit(name);
      else if (op.kind === 'set-state') await client.setUnitTargetState(name, op.desired);
      else {
        const options = UnitFile.parse(catalogue.text(name, op.version)).options.map((o) => ({
          section: o.section,
          name: o.name,
          value: o.value,
        }));
        await client.createUnit({ name, options, desiredState: op.desired });
      }
    }
  } finally {
    await client.close();
  }
}

async function fleetctl(cluster: Cluster, catalogue: Catalogue, op: Op, via: ClusterMachine) {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-soak-'));
  try {
    let args: string[];
    if (op.kind === 'submit') {
      for (const name of op.units) {
        const group = catalogue.groups.find((g) => g.units.includes(name));
        const file = group?.template ?? name;
        writeFileSync(join(dir, file), catalogue.text(name, op.version));
      }
      args = FLEETCTL_COMMAND[op.desired]!;
    } else if (op.kind === 'set-state') {
      args = SET_STATE_COMMAND[op.desired]!;
    } else {
      args = ['destroy'];
    }
    const r = await cluster.fleetctl('host', [...args, ...op.units], { via, cwd: dir });
    if (r.code !== 0) throw new Error(`fleetctl ${args.join(' ')}: ${r.stderr.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether etcd already shows what the operation asked (a failed attempt may have landed). */
async function reflected(cluster: Cluster, catalogue: Catalogue, op: Op): Promise<boolean> {
  const { units } = await observeRegistry(cluster);
  return op.units.every((name) => {
    const r = units[name];
    if (op.kind === 'destroy') return r === undefined;
    if (r === undefined || r.desiredState !== op.desired) return false;
    return op.kind === 'set-state' || r.hash === catalogue.hash(name, op.version);
  });
}
