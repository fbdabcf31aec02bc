import type { Etcd3 } from 'etcd3';
import { RegistryKeys } from './keys.js';
import { type Machine, mergeMetadata } from './machine-store.js';
import { MirrorGroup } from './mirror-group.js';
import {
  decodeRecord,
  leaderRecordSchema,
  machineRecordSchema,
  type UnitRecord,
  unitRecordSchema,
} from './records.js';
import type { BadRecordHandler } from './unit-store.js';

/** What the engine decides from: every unit, every placement, every live machine. */
export interface EngineSnapshot {
  units: ReadonlyMap<string, { record: UnitRecord; modRevision: string }>;
  placements: ReadonlyMap<string, { machineID: string; modRevision: string }>;
  /** Live machines with merged metadata, by ID. */
  machines: ReadonlyMap<string, Machine>;
  /** Machine ID of the engine leader, or null when nobody leads. */
  leaderMachineID: string | null;
}

/**
 * The engine's view of the registry, kept current by watches on exactly the prefixes the
 * engine decides from (not unit states or schedules, which churn). `onChange` fires after
 * every update; decoding happens once per change, when a snapshot is asked for.
 */
export class EngineFeed {
  private readonly group: MirrorGroup<'units' | 'placements' | 'machines' | 'metadata' | 'leader'>;
  private cached: EngineSnapshot | null = null;
  /**
   * Decoded values by key, reused while the key's mod revision is unchanged: a pass then
   * decodes only what changed since the last one, not all units and machines again.
   */
  private readonly decoded = new Map<string, { modRevision: string; record: unknown }>();

  constructor(
    etcd: Etcd3,
    private readonly keys: RegistryKeys,
    onChange: () => void,
    private readonly onBadRecord: BadRecordHandler,
  ) {
    const prefixes = {
      units: keys.unitsPrefix,
      placements: keys.placementsPrefix,
      machines: keys.machinesPrefix,
      metadata: keys.allMachineMetadataPrefix,
      leader: keys.engineLeader,
    };
    this.group = new MirrorGroup(etcd, prefixes, () => {
      this.cached = null;
      onChange();
    });
  }

  /** Starts watching; resolves once every prefix has been listed. */
  watch(): Promise<void> {
    return this.group.watch();
  }

  /** Re-lists every prefix: the reconcile-tick path when watches are disabled. */
  relist(): Promise<void> {
    return this.group.relist();
  }

  stop(): Promise<void> {
    return this.group.stop();
  }

  /** Resolves once the placements reflect `revision` (the engine's own last commit). */
  placementsCaughtUp(revision: bigint, timeoutMs: number): Promise<boolean> {
    return this.group.mirrors.placements.caughtUp(revision, timeoutMs);
  }

  snapshot(): EngineSnapshot {
    this.cached ??= this.decode();
    return this.cached;
  }

  private decode(): EngineSnapshot {
    const { unitsPrefix, placementsPrefix, machinesPrefix, allMachineMetadataPrefix } = this.keys;
    const units = new Map<string, { record: UnitRecord; modRevision: string }>();
    for (const [key, { value, modRevision }] of this.group.mirrors.units.values) {
      const name = RegistryKeys.nameUnder(unitsPrefix, key);
      const record =
        name === null
          ? null
          : this.memo(key, modRevision, () => decodeRecord(unitRecordSchema, key, value));
      if (record !== null && record.name === name) units.set(name, { record, modRevision });
    }

    const placements = new Map<string, { machineID: string; modRevision: string }>();
    for (const [key, { value, modRevision }] of this.group.mirrors.placements.values) {
      const name = RegistryKeys.nameUnder(placementsPrefix, key);
      if (name !== null && value !== '') placements.set(name, { machineID: value, modRevision });
    }

    const dynamic = new Map<string, Map<string, string>>();
    for (const [key, { value }] of this.group.mirrors.metadata.values) {
      const pair = RegistryKeys.pairUnder(allMachineMetadataPrefix, key);
      if (pair === null) continue;
      const forMachine = dynamic.get(pair[0]) ?? new Map<string, string>();
      forMachine.set(pair[1], value);
      dynamic.set(pair[0], forMachine);
    }

    const machines = new Map<string, Machine>();
    for (const [key, { value, modRevision }] of this.group.mirrors.machines.values) {
      if (RegistryKeys.nameUnder(machinesPrefix, key) === null) continue;
      const record = this.memo(key, modRevision, () =>
        decodeRecord(machineRecordSchema, key, value),
      );
      if (record === null) continue;
      const { sessionToken: _, ...machine } = record;
      machines.set(machine.id, {
        ...machine,
        metadata: mergeMetadata(machine.metadata, dynamic.get(machine.id)),
      });
    }

    const leaderKey = this.keys.engineLeader;
    const leaderValue = this.group.mirrors.leader.values.get(leaderKey)?.value;
    const leader =
      leaderValue === undefined
        ? null
        : this.tryDecode(() => decodeRecord(leaderRecordSchema, leaderKey, leaderValue), leaderKey);
    this.forgetDeletedKeys();
    return { units, placements, machines, leaderMachineID: leader?.machineID ?? null };
  }

  /** Decodes a key's value once per mod revision; a bad value is reported once. */
  private memo<T>(key: string, modRevision: string, decode: () => T): T | null {
    const known = this.decoded.get(key);
    if (known !== undefined && known.modRevision === modRevision) return known.record as T | null;
    const record = this.tryDecode(decode, key);
    this.decoded.set(key, { modRevision, record });
    return record;
  }

  /** Drops decoded values of deleted keys, once they make up a good part of the memo. */
  private forgetDeletedKeys(): void {
    const { units, machines } = this.group.mirrors;
    if (this.decoded.size <= 2 * (units.values.size + machines.values.size) + 1_000) return;
    for (const key of this.decoded.keys()) {
      if (!units.values.has(key) && !machines.values.has(key)) this.decoded.delete(key);
    }
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
