import type { Etcd3 } from 'etcd3';
import { ClusterView } from './cluster-view.js';
import { RegistryKeys } from './keys.js';
import { MachineStore } from './machine-store.js';
import { DEFAULT_PAGE_SIZE } from './paged-range.js';
import { ScheduleWriter } from './schedule-writer.js';
import { StateStore } from './state-store.js';
import { UnitFileCache } from './unit-file-cache.js';
import { UnitFileCollector } from './unit-file-collector.js';
import { type BadRecordHandler, UnitStore } from './unit-store.js';

/** The registry's stores over one etcd client and key prefix, sharing one unit-file cache. */
export interface Registry {
  etcd: Etcd3;
  keys: RegistryKeys;
  bodies: UnitFileCache;
  units: UnitStore;
  machines: MachineStore;
  states: StateStore;
  cluster: ClusterView;
  scheduleWriter: ScheduleWriter;
  /** Removes bodies no unit references; writers that destroy or replace units ask it to. */
  unitFileCollector: UnitFileCollector;
  onBadRecord: BadRecordHandler;
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
  };
}
