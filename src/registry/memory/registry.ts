import { MirroredAgentSchedule } from '../agent-schedule.js';
import { MirroredClusterChanges } from '../cluster-changes.js';
import { MirroredEngineView } from '../engine-view.js';
import { RegistryKeys } from '../keys.js';
import type { BadRecordHandler } from '../model.js';
import type { RegistrySeam } from '../ports.js';
import { MemoryBodySweeps } from './body-sweeps.js';
import { MemoryClusterReads } from './cluster-reads.js';
import { MemoryDrainProgress } from './drain-progress.js';
import { MemoryFencedScheduleWrites } from './fenced-schedule-writes.js';
import { MemoryLeadership } from './leadership.js';
import { MemoryMachineCordons } from './machine-cordons.js';
import { MemoryMachineMetadataWrites } from './machine-metadata-writes.js';
import { MemoryMachinePresence } from './machine-presence.js';
import { memoryMirrorSource } from './mirror-source.js';
import { MemoryRolloutRecords } from './rollout-records.js';
import { MemoryStatePublications } from './state-publications.js';
import type { MemoryStore } from './store.js';
import { MemoryUnitBodies } from './unit-bodies.js';
import { MemoryUnitRecords } from './unit-records.js';
import { MemoryUnitStateReads } from './unit-state-reads.js';

/**
 * The registry's in-memory twin, as fleet tested its engine and agent against
 * `registry/fake.go`: the same keys and records as on etcd, over a `MemoryStore` whose
 * clock, watch streams and compaction a test controls. The engine's and agents' views are
 * etcd's own, over mirrors this store feeds.
 */
export function openMemoryRegistry(
  store: MemoryStore,
  prefix?: string,
  onBadRecord: BadRecordHandler = () => undefined,
): RegistrySeam {
  const keys = new RegistryKeys(prefix);
  const bodies = new MemoryUnitBodies(store, keys);
  const units = new MemoryUnitRecords(store, keys, bodies, onBadRecord);
  const machines = new MemoryMachineMetadataWrites(store, keys, onBadRecord);
  const states = new MemoryUnitStateReads(store, keys, onBadRecord);
  const mirrors = memoryMirrorSource(store);
  return {
    units,
    cluster: new MemoryClusterReads(store, keys, units, machines, states),
    states,
    machines,
    cordons: new MemoryMachineCordons(store, keys, onBadRecord),
    drainProgress: new MemoryDrainProgress(store, keys),
    rollouts: new MemoryRolloutRecords(store, keys, onBadRecord),
    bodies,
    unitFileCollector: new MemoryBodySweeps(store, keys),
    scheduleWriter: new MemoryFencedScheduleWrites(store, keys),
    presence: new MemoryMachinePresence(store, keys),
    changes: new MirroredClusterChanges(mirrors, keys),
    engineView: (onChange) => new MirroredEngineView(mirrors, keys, onChange, onBadRecord),
    agentSchedule: (machineID, onChange) =>
      new MirroredAgentSchedule(mirrors, keys, machineID, onChange, onBadRecord),
    leadership: (lease) => new MemoryLeadership(store, keys, lease),
    publications: (lease) => new MemoryStatePublications(store, keys, lease),
    close: () => undefined,
  };
}
