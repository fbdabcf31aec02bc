import { RegistryKeys } from '../keys.js';
import type { BadRecordHandler } from '../model.js';
import type { RegistrySeam } from '../ports.js';
import {
  MemoryBodySweeps,
  MemoryClusterView,
  MemoryMachineStore,
  MemoryStateStore,
} from './cluster.js';
import { MemoryAgentSchedule, MemoryEngineView } from './feeds.js';
import { MemoryLeadership, MemoryPresence, MemoryStatePublisher } from './presence.js';
import { MemoryScheduleWriter } from './schedule.js';
import type { MemoryStore } from './store.js';
import { MemoryBodies, MemoryUnitStore } from './units.js';

/**
 * The registry's in-memory twin, as fleet tested its engine and agent against
 * `registry/fake.go`: the same keys and records as on etcd, over a `MemoryStore` whose
 * clock, watch streams and compaction a test controls.
 */
export function openMemoryRegistry(
  store: MemoryStore,
  prefix?: string,
  onBadRecord: BadRecordHandler = () => undefined,
): RegistrySeam {
  const keys = new RegistryKeys(prefix);
  const bodies = new MemoryBodies(store, keys);
  const units = new MemoryUnitStore(store, keys, bodies, onBadRecord);
  const machines = new MemoryMachineStore(store, keys, onBadRecord);
  const states = new MemoryStateStore(store, keys, onBadRecord);
  return {
    units,
    cluster: new MemoryClusterView(store, keys, units, machines, states),
    states,
    machines,
    bodies,
    unitFileCollector: new MemoryBodySweeps(store, keys),
    scheduleWriter: new MemoryScheduleWriter(store, keys),
    presence: new MemoryPresence(store, keys),
    engineView: (onChange) => new MemoryEngineView(store, keys, onChange, onBadRecord),
    agentSchedule: (machineID, onChange) =>
      new MemoryAgentSchedule(store, keys, machineID, onChange, onBadRecord),
    leadership: (lease) => new MemoryLeadership(store, keys, lease),
    publications: (lease) => new MemoryStatePublisher(store, keys, lease),
    close: () => undefined,
  };
}
