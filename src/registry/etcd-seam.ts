import { AgentFeed } from './agent-feed.js';
import { EngineFeed } from './engine-feed.js';
import { EngineLeadership } from './engine-leadership.js';
import { MachineSession } from './machine-session.js';
import type { RegistrySeam } from './ports.js';
import type { Registry } from './registry.js';
import { StatePublisher } from './state-publisher.js';

/** The seam on etcd: the registry's stores, and the feeds and lease-bound writers it builds. */
export function etcdSeam(registry: Registry): RegistrySeam<MachineSession> {
  const { etcd, keys, onBadRecord } = registry;
  return {
    units: registry.units,
    cluster: registry.cluster,
    states: registry.states,
    machines: registry.machines,
    bodies: registry.bodies,
    unitFileCollector: registry.unitFileCollector,
    scheduleWriter: registry.scheduleWriter,
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
