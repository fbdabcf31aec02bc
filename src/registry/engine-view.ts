import { decodeCordons } from './cordon-ops.js';
import { fenceRevision } from './fence.js';
import { RegistryKeys } from './keys.js';
import {
  type BadRecordHandler,
  type EngineSnapshot,
  type LeaderFence,
  type Machine,
  mergeMetadata,
  type Revision,
} from './model.js';
import type { EngineView } from './ports.js';
import {
  type MirroredValue,
  type MirrorSource,
  PrefixMirror,
  PrefixMirrors,
} from './prefix-mirror.js';
import {
  decodeRecord,
  leaderRecordSchema,
  type MachineRecord,
  machineRecordSchema,
  type UnitRecord,
  unitRecordSchema,
} from './records.js';

type UnitEntry = { record: UnitRecord; modRevision: Revision };
type PlacementEntry = { machineID: string; modRevision: Revision };

type StatePrefix = 'units' | 'placements' | 'machines' | 'metadata' | 'cordons';

/**
 * The engine's view of the registry. Every engine follows the leader key; only the leader
 * also mirrors what it decides from (units, placements, machines, their metadata and cordons), so a
 * unit submitted to a large cluster wakes one engine, not all of them. Unit states and
 * schedules, which churn, are never mirrored. `onChange` fires after every update; decoding
 * happens once per change, when a snapshot is asked for. The same on etcd and in memory:
 * only the mirrors' source differs.
 */
export class MirroredEngineView implements EngineView {
  private readonly leader: PrefixMirror;
  private state: PrefixMirrors<StatePrefix> | null = null;
  private stopped = false;
  private cached: EngineSnapshot | null = null;
  private memo: DecodeMemo;
  private readonly changed: () => void;

  constructor(
    private readonly source: MirrorSource,
    private readonly keys: RegistryKeys,
    onChange: () => void,
    private readonly onBadRecord: BadRecordHandler,
  ) {
    this.changed = () => {
      this.cached = null;
      onChange();
    };
    this.leader = new PrefixMirror(source, keys.engineLeader, this.changed);
    this.memo = decodeMemo(onBadRecord);
  }

  /** Starts following the leader key; resolves once it has been read. */
  watch(): Promise<void> {
    return this.leader.watch();
  }

  /**
   * Re-reads the leader key, and the registry state while it is mirrored: the
   * reconcile-tick path when watches are disabled.
   */
  async relist(): Promise<void> {
    await Promise.all([this.leader.relist(), this.state?.relist()]);
  }

  /**
   * Starts mirroring the registry state (on winning leadership) and resolves once every
   * prefix has been listed, so the first decision sees everything committed before it.
   * Resolves at once while already mirroring.
   */
  async mirrorState({ watch }: { watch: boolean }): Promise<void> {
    if (this.stopped) throw new Error('engine feed: stopped');
    if (this.state !== null) return;
    const { keys } = this;
    const state = new PrefixMirrors(
      this.source,
      {
        units: keys.unitsPrefix,
        placements: keys.placementsPrefix,
        machines: keys.machinesPrefix,
        metadata: keys.allMachineMetadataPrefix,
        cordons: keys.cordonsPrefix,
      },
      this.changed,
    );
    this.state = state;
    this.cached = null;
    await (watch ? state.watch() : state.relist());
    if (watch) await state.catchUp();
  }

  /** Stops mirroring the registry state and forgets it (on losing leadership). */
  async releaseState(): Promise<void> {
    const state = this.state;
    this.state = null;
    this.cached = null;
    this.memo = decodeMemo(this.onBadRecord);
    await state?.stop();
  }

  get mirrorsState(): boolean {
    return this.state !== null;
  }

  /** Stops every watch; a listing still under way is abandoned. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.leader.stop(), this.releaseState()]);
  }

  /** Machine ID in the leader key as last seen, or null when nobody leads. */
  leaderMachineID(): string | null {
    const key = this.keys.engineLeader;
    const value = this.leader.values.get(key)?.value;
    if (value === undefined) return null;
    return (
      this.tryDecode(() => decodeRecord(leaderRecordSchema, key, value), key)?.machineID ?? null
    );
  }

  /**
   * Whether the leader key as last seen is at least as new as the fence's create revision:
   * an engine that won at that revision and does not see itself there has really lost the
   * key, rather than not having heard of its own election yet.
   */
  leaderKeySeenSince(fence: LeaderFence): Promise<boolean> {
    return this.leader.caughtUp(BigInt(fenceRevision(fence)), 0);
  }

  /** Resolves once the placements reflect `revision` (the engine's own last commit). */
  placementsCaughtUp(revision: Revision, timeoutMs: number): Promise<boolean> {
    const placements = this.state?.mirrors.placements;
    return placements?.caughtUp(BigInt(revision), timeoutMs) ?? Promise.resolve(false);
  }

  /** The registry state as mirrored; only while mirroring (see `mirrorState`). */
  snapshot(): EngineSnapshot {
    this.cached ??= this.decode(this.mirrored());
    return this.cached;
  }

  private mirrored(): PrefixMirrors<StatePrefix> {
    if (this.state === null) throw new Error('engine feed: the registry state is not mirrored');
    return this.state;
  }

  private decode({ mirrors }: PrefixMirrors<StatePrefix>): EngineSnapshot {
    const { unitsPrefix, placementsPrefix, machinesPrefix, allMachineMetadataPrefix } = this.keys;
    const units = new Map<string, UnitEntry>();
    for (const [key, mirrored] of mirrors.units.values) {
      const derived = this.memo.units.derive(key, mirrored, () => {
        const name = RegistryKeys.nameUnder(unitsPrefix, key);
        if (name === null) return null;
        const record = decodeRecord(unitRecordSchema, key, mirrored.value);
        return record.name === name
          ? { name, entry: { record, modRevision: mirrored.modRevision } }
          : null;
      });
      if (derived !== null) units.set(derived.name, derived.entry);
    }

    const placements = new Map<string, PlacementEntry>();
    for (const [key, mirrored] of mirrors.placements.values) {
      const derived = this.memo.placements.derive(key, mirrored, () => {
        const name = RegistryKeys.nameUnder(placementsPrefix, key);
        if (name === null || mirrored.value === '') return null;
        return { name, entry: { machineID: mirrored.value, modRevision: mirrored.modRevision } };
      });
      if (derived !== null) placements.set(derived.name, derived.entry);
    }

    const dynamic = new Map<string, Map<string, string>>();
    for (const [key, { value }] of mirrors.metadata.values) {
      const pair = RegistryKeys.pairUnder(allMachineMetadataPrefix, key);
      if (pair === null) continue;
      const forMachine = dynamic.get(pair[0]) ?? new Map<string, string>();
      forMachine.set(pair[1], value);
      dynamic.set(pair[0], forMachine);
    }

    const machines = new Map<string, Machine>();
    for (const [key, mirrored] of mirrors.machines.values) {
      const derived = this.memo.machines.derive(key, mirrored, () => {
        if (RegistryKeys.nameUnder(machinesPrefix, key) === null) return null;
        const { sessionToken: _, ...machine } = decodeRecord(
          machineRecordSchema,
          key,
          mirrored.value,
        );
        return { name: machine.id, entry: machine };
      });
      if (derived === null) continue;
      machines.set(derived.name, {
        ...derived.entry,
        metadata: mergeMetadata(derived.entry.metadata, dynamic.get(derived.name)),
      });
    }
    this.memo.units.forgetDeleted(mirrors.units.values);
    this.memo.placements.forgetDeleted(mirrors.placements.values);
    this.memo.machines.forgetDeleted(mirrors.machines.values);
    const cordons = decodeCordons(
      this.keys,
      Array.from(mirrors.cordons.values, ([key, { value, modRevision }]) => ({
        key,
        value,
        modRevision,
      })),
      this.onBadRecord,
    );
    return { units, placements, machines, cordons };
  }

  private tryDecode<T>(decode: () => T, key: string): T | null {
    try {
      return decode();
    } catch (err) {
      this.onBadRecord(key, err as Error);
      return null;
    }
  }
}

/**
 * What each key under one prefix stands for (its name and entry, or null when unusable),
 * derived once per mod revision: a pass then decodes only what changed since the last one,
 * and reuses every other entry as it is. A bad value is reported once.
 */
class DerivedEntries<T> {
  private readonly byKey = new Map<
    string,
    { modRevision: string; derived: { name: string; entry: T } | null }
  >();

  constructor(private readonly onBadRecord: BadRecordHandler) {}

  derive(
    key: string,
    mirrored: MirroredValue,
    derive: () => { name: string; entry: T } | null,
  ): { name: string; entry: T } | null {
    const known = this.byKey.get(key);
    if (known !== undefined && known.modRevision === mirrored.modRevision) return known.derived;
    let derived: { name: string; entry: T } | null = null;
    try {
      derived = derive();
    } catch (err) {
      this.onBadRecord(key, err as Error);
    }
    this.byKey.set(key, { modRevision: mirrored.modRevision, derived });
    return derived;
  }

  /** Forgets deleted keys, once they make up a good part of what is remembered. */
  forgetDeleted(live: ReadonlyMap<string, unknown>): void {
    if (this.byKey.size <= 2 * live.size + 1_000) return;
    for (const key of this.byKey.keys()) if (!live.has(key)) this.byKey.delete(key);
  }
}

interface DecodeMemo {
  units: DerivedEntries<UnitEntry>;
  placements: DerivedEntries<PlacementEntry>;
  machines: DerivedEntries<Omit<MachineRecord, 'sessionToken'>>;
}

function decodeMemo(onBadRecord: BadRecordHandler): DecodeMemo {
  return {
    units: new DerivedEntries(onBadRecord),
    placements: new DerivedEntries(onBadRecord),
    machines: new DerivedEntries(onBadRecord),
  };
}
