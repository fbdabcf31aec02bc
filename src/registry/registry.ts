import type { Etcd3 } from 'etcd3';
import { AgentFeed } from './agent-feed.js';
import { ClusterView } from './cluster-view.js';
import { EngineFeed } from './engine-feed.js';
import { EngineLeadership } from './engine-leadership.js';
import { createEtcdClient, type EtcdConnectionConfig } from './etcd-client.js';
import { RegistryKeys } from './keys.js';
import { MachineSession } from './machine-session.js';
import { MachineStore } from './machine-store.js';
import type { BadRecordHandler } from './model.js';
import { DEFAULT_PAGE_SIZE } from './paged-range.js';
import type { RegistrySeam } from './ports.js';
import type { MachineRecord } from './records.js';
import { ScheduleWriter } from './schedule-writer.js';
import { StatePublisher } from './state-publisher.js';
import { StateStore } from './state-store.js';
import { UnitFileCache } from './unit-file-cache.js';
import { UnitFileCollector } from './unit-file-collector.js';
import { UnitStore } from './unit-store.js';

/**
 * The seam on etcd: the registry's stores over one client and key prefix, sharing one
 * unit-file cache, and the feeds and lease-bound writers they build. The client and the
 * keys are for `src/registry/` and its tests; everything else gets a `RegistrySeam`.
 */
export interface Registry extends RegistrySeam {
  readonly etcd: Etcd3;
  readonly keys: RegistryKeys;
  readonly bodies: UnitFileCache;
  readonly units: UnitStore;
  readonly machines: MachineStore;
  readonly states: StateStore;
  readonly cluster: ClusterView;
  readonly scheduleWriter: ScheduleWriter;
  /** Removes bodies no unit references; writers that destroy or replace units ask it to. */
  readonly unitFileCollector: UnitFileCollector;
  readonly presence: { open(record: MachineRecord, ttlMs: number): Promise<MachineSession> };
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
  const bodies = new UnitFileCache(etcd, keys, bodyCacheBytes);
  const units = new UnitStore(etcd, keys, bodies, onBadRecord, pageSize);
  const machines = new MachineStore(etcd, keys, onBadRecord, pageSize);
  const states = new StateStore(etcd, keys, onBadRecord, pageSize);
  return {
    etcd,
    keys,
    bodies,
    units,
    machines,
    states,
    cluster: new ClusterView(etcd, keys, units, machines, states, pageSize),
    scheduleWriter: new ScheduleWriter(etcd, keys),
    unitFileCollector: new UnitFileCollector(etcd, keys, { pageSize }),
    onBadRecord,
    presence: {
      open: (record, ttlMs) => MachineSession.open(etcd, keys, record, ttlMs),
    },
    engineView: (onChange) => new EngineFeed(etcd, keys, onChange, onBadRecord),
    agentSchedule: (machineID, onChange) =>
      new AgentFeed(etcd, keys, machineID, onChange, onBadRecord),
    leadership: (lease) => new EngineLeadership(etcd, keys, lease),
    publications: (lease) => new StatePublisher(etcd, keys, lease),
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
