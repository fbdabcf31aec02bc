import type { Etcd3 } from 'etcd3';
import { MirroredAgentSchedule } from './agent-schedule.js';
import { EtcdBodySweeps } from './body-sweeps.js';
import { MirroredClusterChanges } from './cluster-changes.js';
import { EtcdClusterReads } from './cluster-reads.js';
import { EtcdDrainProgress } from './drain-progress.js';
import { MirroredEngineView } from './engine-view.js';
import { createEtcdClient, type EtcdConnectionConfig } from './etcd-client.js';
import { etcdMirrorSource } from './etcd-mirror-source.js';
import { EtcdFencedScheduleWrites } from './fenced-schedule-writes.js';
import { RegistryKeys } from './keys.js';
import { EtcdLeadership } from './leadership.js';
import { EtcdMachineCordons } from './machine-cordons.js';
import { EtcdMachineMetadataWrites } from './machine-metadata-writes.js';
import { EtcdMachinePresence } from './machine-presence.js';
import type { BadRecordHandler } from './model.js';
import { DEFAULT_PAGE_SIZE } from './paged-range.js';
import type { RegistrySeam } from './ports.js';
import { EtcdRolloutRecords } from './rollout-records.js';
import { EtcdStatePublications } from './state-publications.js';
import { EtcdUnitBodies } from './unit-bodies.js';
import { EtcdUnitRecords } from './unit-records.js';
import { EtcdUnitStateReads } from './unit-state-reads.js';

/**
 * The seam on etcd: the registry's stores over one client and key prefix, sharing one
 * unit-file cache, and the views and lease-bound writers they build. The client and the
 * keys are for `src/registry/` and its tests; everything else gets a `RegistrySeam`.
 */
export interface Registry extends RegistrySeam {
  readonly etcd: Etcd3;
  readonly keys: RegistryKeys;
  readonly bodies: EtcdUnitBodies;
  readonly units: EtcdUnitRecords;
  readonly machines: EtcdMachineMetadataWrites;
  readonly cordons: EtcdMachineCordons;
  readonly states: EtcdUnitStateReads;
  readonly cluster: EtcdClusterReads;
  readonly scheduleWriter: EtcdFencedScheduleWrites;
  /** Removes bodies no unit references; writers that destroy or replace units ask it to. */
  readonly unitFileCollector: EtcdBodySweeps;
  readonly presence: EtcdMachinePresence;
  readonly onBadRecord: BadRecordHandler;
}
/** Limits that tests set small; the defaults suit production. */
export interface RegistryOptions {
  /** Keys per Range request when a whole prefix is read. */
  pageSize?: number;
  /** Bytes of unit-body text the cache may hold. */
  bodyCacheBytes?: number;
}

export function openRegistry(
  etcd: Etcd3,
  prefix: string,
  onBadRecord: BadRecordHandler,
  { pageSize = DEFAULT_PAGE_SIZE, bodyCacheBytes }: RegistryOptions = {},
): Registry {
  const keys = new RegistryKeys(prefix);
  const bodies = new EtcdUnitBodies(etcd, keys, bodyCacheBytes);
  const units = new EtcdUnitRecords(etcd, keys, bodies, onBadRecord, pageSize);
  const machines = new EtcdMachineMetadataWrites(etcd, keys, onBadRecord, pageSize);
  const states = new EtcdUnitStateReads(etcd, keys, onBadRecord, pageSize);
  const mirrors = etcdMirrorSource(etcd);
  return {
    etcd,
    keys,
    bodies,
    units,
    machines,
    cordons: new EtcdMachineCordons(etcd, keys, onBadRecord, pageSize),
    drainProgress: new EtcdDrainProgress(etcd, keys),
    rollouts: new EtcdRolloutRecords(etcd, keys, onBadRecord, pageSize),
    states,
    cluster: new EtcdClusterReads(etcd, keys, units, machines, states, pageSize),
    scheduleWriter: new EtcdFencedScheduleWrites(etcd, keys),
    unitFileCollector: new EtcdBodySweeps(etcd, keys, { pageSize }),
    onBadRecord,
    presence: new EtcdMachinePresence(etcd, keys),
    changes: new MirroredClusterChanges(mirrors, keys),
    engineView: (onChange) => new MirroredEngineView(mirrors, keys, onChange, onBadRecord),
    agentSchedule: (machineID, onChange) =>
      new MirroredAgentSchedule(mirrors, keys, machineID, onChange, onBadRecord),
    leadership: (lease) => new EtcdLeadership(etcd, keys, lease),
    publications: (lease) => new EtcdStatePublications(etcd, keys, lease),
    close: () => etcd.close(),
  };
}

/**
 * Connects to etcd as fleet.conf (or fleetctl's flags) say and opens the registry under
 * `prefix`: how fleetd and fleetctl's etcd driver reach the cluster, without ever holding
 * the client.
 */
export function connectRegistry(
  connection: EtcdConnectionConfig,
  prefix: string,
  onBadRecord: BadRecordHandler,
): RegistrySeam {
  return openRegistry(createEtcdClient(connection), prefix, onBadRecord);
}
