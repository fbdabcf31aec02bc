// Observing the cluster for the checker: what etcd holds (units, schedule, presence, leases)
// and what systemd on each machine runs, as plain values, plus what PID 1 logged about the
// soak's units since the last look.
import { z } from 'zod';
import type { Cluster, ClusterMachine } from '../cluster/index.js';
import { loadedUnits, unitEvents, unitRuns } from '../cluster/systemd-view.js';
import { RegistryKeys } from '../src/registry/keys.js';
import type {
  MachineEvent,
  MachineObservation,
  Observation,
  RegistryObservation,
  UnitRecord,
} from './checker.js';

const GLOB = 'soak-*';

// etcdctl prints int64 lease IDs as JSON numbers, which lose digits as doubles: they are
// quoted before parsing.
const KvsSchema = z.object({
  kvs: z
    .array(
      z.object({ key: z.string(), value: z.string().default(''), lease: z.string().optional() }),
    )
    .default([]),
});
const LeasesSchema = z.object({
  leases: z
    .array(z.object({ id: z.string() }))
    .nullish()
    .transform((l) => l ?? []),
});
const RecordSchema = z.object({ hash: z.string(), desiredState: z.string() });

function quoteInt64(json: string): string {
  return json.replace(/"(lease|id)":(-?\d+)/g, '"$1":"$2"');
}

function base64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}

function record(value: string): UnitRecord | undefined {
  try {
    const r = RecordSchema.safeParse(JSON.parse(value));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** etcd's content under the cluster's prefix, decoded, with every lease and its keys. */
export async function observeRegistry(cluster: Cluster): Promise<RegistryObservation> {
  const keys = cluster.keys;
  const got = await cluster.etcdctl(['get', '--prefix', keys.prefix, '-w', 'json']);
  const kvs = KvsSchema.parse(JSON.parse(quoteInt64(got.stdout))).kvs.map((kv) => ({
    key: base64(kv.key),
    value: base64(kv.value),
    lease: kv.lease ?? '0',
  }));
  const listed = await cluster.etcdctl(['lease', 'list', '-w', 'json']);
  const leaseIds = LeasesSchema.parse(JSON.parse(quoteInt64(listed.stdout))).leases.map(
    (l) => l.id,
  );
  const units: Record<string, UnitRecord> = {};
  const globals: Record<string, UnitRecord> = {};
  const placements: Record<string, string> = {};
  const scheduled: Array<{ machineId: string; unit: string; desiredState: string }> = [];
  const machines: Record<string, string> = {};
  for (const { key, value, lease } of kvs) {
    const unit = RegistryKeys.nameUnder(keys.unitsPrefix, key);
    const global = RegistryKeys.nameUnder(keys.globalUnitsPrefix, key);
    const placed = RegistryKeys.nameUnder(keys.placementsPrefix, key);
    const entry = RegistryKeys.pairUnder(keys.allSchedulesPrefix, key);
    const machine = RegistryKeys.nameUnder(keys.machinesPrefix, key);
    if (unit !== null) {
      const r = record(value);
      if (r !== undefined) units[unit] = r;
    } else if (global !== null) {
      const r = record(value);
      if (r !== undefined) globals[global] = r;
    } else if (placed !== null) {
      placements[placed] = value;
    } else if (entry !== null) {
      scheduled.push({
        machineId: entry[0],
        unit: entry[1],
        desiredState: record(value)?.desiredState ?? '?',
      });
    } else if (machine !== null) {
      machines[machine] = lease;
    }
  }
  const leases = leaseIds.map((id) => ({
    id,
    keys: kvs.filter((kv) => kv.lease === id).map((kv) => kv.key.slice(keys.prefix.length)),
  }));
  return { units, globals, placements, schedule: scheduled, machines, leases };
}

/** Journal cursors per boot of each machine, so each look reads only what is new. */
export class Observer {
  private readonly cursors = new Map<string, string | undefined>();

  constructor(private readonly cluster: Cluster) {}

  /** One observation of the whole cluster, and PID 1's messages since the last one. */
  async observe(): Promise<{ observation: Observation; events: MachineEvent[] }> {
    const atMs = Date.now();
    const [registry, machines] = await Promise.all([
      observeRegistry(this.cluster),
      Promise.all([...this.cluster.machines.values()].map((m) => this.observeMachine(m))),
    ]);
    return {
      observation: { atMs, registry, machines: machines.map((x) => x.machine) },
      events: machines.flatMap((x) => x.events),
    };
  }

  private async observeMachine(
    m: ClusterMachine,
  ): Promise<{ machine: MachineObservation; events: MachineEvent[] }> {
    const base = {
      name: m.name,
      id: m.id,
      boot: m.pid,
      metadata: Object.fromEntries(m.metadata),
    };
    const down = { ...base, alive: false, fleetActive: false, files: [], runs: {} };
    if (!m.alive) return { machine: down, events: [] };
    try {
      const [fleet, files, loaded] = await Promise.all([
        this.cluster.unitProperty(m, 'fleet.service', 'ActiveState'),
        this.cluster.unitFiles(m),
        loadedUnits(this.cluster, m, GLOB),
      ]);
      const runs = Object.fromEntries(await unitRuns(this.cluster, m, loaded));
      const boot = `${m.name}:${m.pid}`;
      const read = await unitEvents(this.cluster, m, this.cursors.get(boot), (unit) =>
        unit.startsWith('soak-'),
      );
      this.cursors.set(boot, read.cursor);
      return {
        machine: { ...base, alive: true, fleetActive: fleet === 'active', files, runs },
        events: read.events.map((e) => ({ machine: m.name, ...e })),
      };
    } catch (e) {
      // A machine that died while being looked at is down; anything else is a real failure.
      if (!m.alive) return { machine: down, events: [] };
      throw e;
    }
  }
}
