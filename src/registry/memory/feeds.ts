import { fenceRevision } from '../fence.js';
import { RegistryKeys } from '../keys.js';
import {
  type AgentSnapshot,
  type BadRecordHandler,
  type EngineSnapshot,
  type LeaderFence,
  type Machine,
  mergeMetadata,
  type Revision,
} from '../model.js';
import type { AgentSchedule, EngineView } from '../ports.js';
import {
  decodeRecord,
  leaderRecordSchema,
  machineRecordSchema,
  type ScheduleEntry,
  scheduleEntrySchema,
  type UnitRecord,
  unitRecordSchema,
} from '../records.js';
import { MemoryMirror } from './mirror.js';
import type { MemoryStore } from './store.js';

type StateMirrors = Record<'units' | 'placements' | 'machines' | 'metadata', MemoryMirror>;

/** `EngineFeed` on the in-memory store. */
export class MemoryEngineView implements EngineView {
  private readonly leader: MemoryMirror;
  private state: StateMirrors | null = null;
  private stopped = false;

  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly onChange: () => void,
    private readonly onBadRecord: BadRecordHandler,
  ) {
    this.leader = new MemoryMirror(store, keys.engineLeader, onChange);
  }

  watch(): Promise<void> {
    return this.leader.watch();
  }

  async relist(): Promise<void> {
    await this.leader.relist();
    if (this.state !== null) await each(this.state, (mirror) => mirror.relist());
  }

  async mirrorState({ watch }: { watch: boolean }): Promise<void> {
    if (this.stopped) throw new Error('engine feed: stopped');
    if (this.state !== null) return;
    const { keys, store, onChange } = this;
    const state: StateMirrors = {
      units: new MemoryMirror(store, keys.unitsPrefix, onChange),
      placements: new MemoryMirror(store, keys.placementsPrefix, onChange),
      machines: new MemoryMirror(store, keys.machinesPrefix, onChange),
      metadata: new MemoryMirror(store, keys.allMachineMetadataPrefix, onChange),
    };
    this.state = state;
    await each(state, (mirror) => (watch ? mirror.watch() : mirror.relist()));
  }

  async releaseState(): Promise<void> {
    const state = this.state;
    this.state = null;
    if (state !== null) await each(state, (mirror) => mirror.stop());
  }

  get mirrorsState(): boolean {
    return this.state !== null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.leader.stop(), this.releaseState()]);
  }

  leaderMachineID(): string | null {
    const key = this.keys.engineLeader;
    const value = this.leader.values.get(key)?.value;
    if (value === undefined) return null;
    try {
      return decodeRecord(leaderRecordSchema, key, value).machineID;
    } catch (err) {
      this.onBadRecord(key, err as Error);
      return null;
    }
  }

  leaderKeySeenSince(fence: LeaderFence): Promise<boolean> {
    return this.leader.caughtUp(BigInt(fenceRevision(fence)), 0);
  }

  placementsCaughtUp(revision: Revision, timeoutMs: number): Promise<boolean> {
    const placements = this.state?.placements;
    return placements?.caughtUp(BigInt(revision), timeoutMs) ?? Promise.resolve(false);
  }

  snapshot(): EngineSnapshot {
    if (this.state === null) throw new Error('engine feed: the registry state is not mirrored');
    const { units, placements, machines, metadata } = this.state;
    const { unitsPrefix, placementsPrefix, machinesPrefix, allMachineMetadataPrefix } = this.keys;
    const snapshot = {
      units: new Map<string, { record: UnitRecord; modRevision: string }>(),
      placements: new Map<string, { machineID: string; modRevision: string }>(),
      machines: new Map<string, Machine>(),
    };
    for (const [key, { value, modRevision }] of units.values) {
      const name = RegistryKeys.nameUnder(unitsPrefix, key);
      const record =
        name === null ? null : this.decode(() => decodeRecord(unitRecordSchema, key, value), key);
      if (name !== null && record?.name === name) snapshot.units.set(name, { record, modRevision });
    }
    for (const [key, { value, modRevision }] of placements.values) {
      const name = RegistryKeys.nameUnder(placementsPrefix, key);
      if (name !== null && value !== '')
        snapshot.placements.set(name, { machineID: value, modRevision });
    }
    const dynamic = new Map<string, Map<string, string>>();
    for (const [key, { value }] of metadata.values) {
      const pair = RegistryKeys.pairUnder(allMachineMetadataPrefix, key);
      if (pair === null) continue;
      const forMachine = dynamic.get(pair[0]) ?? new Map<string, string>();
      forMachine.set(pair[1], value);
      dynamic.set(pair[0], forMachine);
    }
    for (const [key, { value }] of machines.values) {
      if (RegistryKeys.nameUnder(machinesPrefix, key) === null) continue;
      const record = this.decode(() => decodeRecord(machineRecordSchema, key, value), key);
      if (record === null) continue;
      const { sessionToken: _, ...machine } = record;
      snapshot.machines.set(machine.id, {
        ...machine,
        metadata: mergeMetadata(machine.metadata, dynamic.get(machine.id)),
      });
    }
    return snapshot;
  }

  private decode<T>(decode: () => T, key: string): T | null {
    try {
      return decode();
    } catch (err) {
      this.onBadRecord(key, err as Error);
      return null;
    }
  }
}

/** `AgentFeed` on the in-memory store. */
export class MemoryAgentSchedule implements AgentSchedule {
  private readonly mirrors: Record<'scheduled' | 'globals' | 'metadata', MemoryMirror>;

  constructor(
    store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly machineID: string,
    onChange: () => void,
    private readonly onBadRecord: BadRecordHandler,
  ) {
    this.mirrors = {
      scheduled: new MemoryMirror(store, keys.schedulePrefix(machineID), onChange),
      globals: new MemoryMirror(store, keys.globalUnitsPrefix, onChange),
      metadata: new MemoryMirror(store, keys.machineMetadataPrefix(machineID), onChange),
    };
  }

  watch(): Promise<void> {
    return each(this.mirrors, (mirror) => mirror.watch());
  }

  relist(): Promise<void> {
    return each(this.mirrors, (mirror) => mirror.relist());
  }

  stop(): Promise<void> {
    return each(this.mirrors, (mirror) => mirror.stop());
  }

  snapshot(): AgentSnapshot {
    const metadataPrefix = this.keys.machineMetadataPrefix(this.machineID);
    const dynamicMetadata = new Map<string, string>();
    for (const [key, { value }] of this.mirrors.metadata.values) {
      const name = RegistryKeys.nameUnder(metadataPrefix, key);
      if (name !== null) dynamicMetadata.set(name, value);
    }
    return {
      scheduled: this.entries(this.mirrors.scheduled),
      globals: this.entries(this.mirrors.globals),
      dynamicMetadata,
    };
  }

  private entries(mirror: MemoryMirror): Map<string, ScheduleEntry> {
    const entries = new Map<string, ScheduleEntry>();
    for (const [key, { value }] of mirror.values) {
      const name = RegistryKeys.nameUnder(mirror.prefix, key);
      if (name === null) continue;
      try {
        entries.set(name, decodeRecord(scheduleEntrySchema, key, value));
      } catch (err) {
        this.onBadRecord(key, err as Error);
      }
    }
    return entries;
  }
}

async function each<Name extends string>(
  mirrors: Record<Name, MemoryMirror>,
  call: (mirror: MemoryMirror) => Promise<void>,
): Promise<void> {
  await Promise.all(Object.values<MemoryMirror>(mirrors).map(call));
}
