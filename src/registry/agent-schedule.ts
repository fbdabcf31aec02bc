import { RegistryKeys } from './keys.js';
import type { AgentSnapshot, BadRecordHandler, HealthCheck } from './model.js';
import type { AgentSchedule } from './ports.js';
import { type MirrorSource, PrefixMirrors } from './prefix-mirror.js';
import {
  decodeRecord,
  rolloutPinSchema,
  type ScheduleEntry,
  scheduleEntrySchema,
} from './records.js';

/**
 * An agent's view of the registry: four small prefixes, so its etcd traffic grows with
 * its own units and the cluster's global units, never with the whole cluster. The same on
 * etcd and in memory: only the mirrors' source differs.
 */
export class MirroredAgentSchedule implements AgentSchedule {
  private readonly group: PrefixMirrors<'scheduled' | 'globals' | 'metadata' | 'pins'>;
  private cached: AgentSnapshot | null = null;

  constructor(
    source: MirrorSource,
    private readonly keys: RegistryKeys,
    private readonly machineID: string,
    onChange: () => void,
    private readonly onBadRecord: BadRecordHandler,
  ) {
    const prefixes = {
      scheduled: keys.schedulePrefix(machineID),
      globals: keys.globalUnitsPrefix,
      metadata: keys.machineMetadataPrefix(machineID),
      pins: keys.rolloutPinsPrefix(machineID),
    };
    this.group = new PrefixMirrors(source, prefixes, () => {
      this.cached = null;
      onChange();
    });
  }

  watch(): Promise<void> {
    return this.group.watch();
  }

  relist(): Promise<void> {
    return this.group.relist();
  }

  stop(): Promise<void> {
    return this.group.stop();
  }

  snapshot(): AgentSnapshot {
    this.cached ??= {
      scheduled: this.entries('scheduled', this.keys.schedulePrefix(this.machineID)),
      globals: this.entries('globals', this.keys.globalUnitsPrefix),
      dynamicMetadata: this.metadata(),
      ...this.pins(),
    };
    return this.cached;
  }

  private entries(mirror: 'scheduled' | 'globals', prefix: string): Map<string, ScheduleEntry> {
    const entries = new Map<string, ScheduleEntry>();
    for (const [key, { value }] of this.group.mirrors[mirror].values) {
      const name = RegistryKeys.nameUnder(prefix, key);
      if (name === null) continue;
      try {
        entries.set(name, decodeRecord(scheduleEntrySchema, key, value));
      } catch (err) {
        this.onBadRecord(key, err as Error);
      }
    }
    return entries;
  }

  private pins(): Pick<AgentSnapshot, 'pins' | 'healthChecks'> {
    const prefix = this.keys.rolloutPinsPrefix(this.machineID);
    const pins = new Map<string, string>();
    const healthChecks = new Map<string, HealthCheck>();
    for (const [key, { value }] of this.group.mirrors.pins.values) {
      const name = RegistryKeys.nameUnder(prefix, key);
      if (name === null) continue;
      try {
        const { hash, rollout, healthCmd } = decodeRecord(rolloutPinSchema, key, value);
        pins.set(name, hash);
        if (healthCmd !== undefined) healthChecks.set(name, { rollout, hash, command: healthCmd });
      } catch (err) {
        this.onBadRecord(key, err as Error);
      }
    }
    return { pins, healthChecks };
  }

  private metadata(): Map<string, string> {
    const prefix = this.keys.machineMetadataPrefix(this.machineID);
    const metadata = new Map<string, string>();
    for (const [key, { value }] of this.group.mirrors.metadata.values) {
      const name = RegistryKeys.nameUnder(prefix, key);
      if (name !== null) metadata.set(name, value);
    }
    return metadata;
  }
}
