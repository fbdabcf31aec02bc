// The soak's unit catalogue: a fixed pool of unit names, their text for each version, and the
// scheduling rules each carries. Plain units, MachineOf pairs, a Conflicts group, template
// instances and global units, one of each kind also limited by machine metadata.
import { UnitFile } from '../src/unit/unit-file.js';

export type Desired = 'launched' | 'loaded' | 'inactive';

/** The scheduling rules of a unit, as its [X-Fleet] section states them. */
export interface Rules {
  global: boolean;
  /** The unit it must share a machine with. */
  machineOf?: string;
  /** Conflicts glob: no other unit matching it on the same machine. */
  conflicts?: string;
  /** MachineMetadata `key=value`: only machines with it. */
  metadata?: readonly [string, string];
}

/** A group of units the workload acts on together (a MachineOf pair is one group). */
export interface UnitGroup {
  id: string;
  /** In creation order: a MachineOf target before its follower. */
  units: readonly string[];
  /** A template instance is created from the template file by fleetctl. */
  template?: string;
}

/** Rack metadata of the machine at a position from 1: machines alternate between `a` and `b`. */
export function rackOf(index: number): string {
  return index % 2 === 1 ? 'a' : 'b';
}

export const TEMPLATE = 'soak-tpl@.service';
const PLAIN = 5;
const PAIRS = 2;
const INSTANCES = 3;

/** The catalogue of a cluster of `machines` machines. */
export class Catalogue {
  readonly groups: readonly UnitGroup[];
  private readonly rules = new Map<string, Rules>();

  constructor(readonly machines: number) {
    const groups: UnitGroup[] = [];
    for (let i = 0; i < PLAIN; i++) this.add(groups, `soak-plain-${i}.service`, { global: false });
    this.add(groups, 'soak-plain-rack-b.service', { global: false, metadata: ['rack', 'b'] });
    for (let i = 0; i < PAIRS; i++) {
      const a = `soak-pair-${i}-a.service`;
      const b = `soak-pair-${i}-b.service`;
      this.rules.set(a, { global: false });
      this.rules.set(b, { global: false, machineOf: a });
      groups.push({ id: `pair-${i}`, units: [a, b] });
    }
    // One fewer than the machines: the group still fits while one machine is down.
    for (let i = 0; i < Math.max(1, machines - 1); i++) {
      this.add(groups, `soak-conf-${i}.service`, { global: false, conflicts: 'soak-conf-*' });
    }
    for (let i = 1; i <= INSTANCES; i++) {
      const name = `soak-tpl@${i}.service`;
      this.rules.set(name, { global: false });
      groups.push({ id: name, units: [name], template: TEMPLATE });
    }
    this.add(groups, 'soak-global-all.service', { global: true });
    this.add(groups, 'soak-global-rack-a.service', { global: true, metadata: ['rack', 'a'] });
    this.groups = groups;
  }

  private add(groups: UnitGroup[], name: string, rules: Rules): void {
    this.rules.set(name, rules);
    groups.push({ id: name, units: [name] });
  }

  get names(): string[] {
    return [...this.rules.keys()];
  }

  rulesOf(name: string): Rules {
    const r = this.rules.get(name);
    if (r === undefined) throw new Error(`${name} is not in the soak's catalogue`);
    return r;
  }

  group(id: string): UnitGroup {
    const g = this.groups.find((x) => x.id === id);
    if (g === undefined) throw new Error(`no unit group ${id}`);
    return g;
  }

  /** Units whose MachineOf names `name`: they move when it moves. */
  followersOf(name: string): string[] {
    return this.names.filter((n) => this.rules.get(n)?.machineOf === name);
  }

  /** The unit file text of a unit (or of its template) at a version. */
  text(name: string, version: number): string {
    const r = this.rulesOf(name);
    const instance = name.startsWith('soak-tpl@');
    const fleet: string[] = [];
    if (r.global) fleet.push('Global=true');
    if (r.machineOf !== undefined) fleet.push(`MachineOf=${r.machineOf}`);
    if (r.conflicts !== undefined) fleet.push(`Conflicts=${r.conflicts}`);
    if (r.metadata !== undefined) fleet.push(`MachineMetadata=${r.metadata[0]}=${r.metadata[1]}`);
    return (
      `[Unit]\nDescription=${instance ? 'soak template instance %i' : name}\n\n` +
      `[Service]\nExecStart=/bin/sleep infinity\nEnvironment=SOAK_VERSION=${version}\n` +
      (fleet.length === 0 ? '' : `\n[X-Fleet]\n${fleet.join('\n')}\n`)
    );
  }

  /** The content hash etcd records for a unit at a version (fleet's SHA-1 of the canonical text). */
  hash(name: string, version: number): string {
    return UnitFile.parse(this.text(name, version)).hash;
  }
}

/** fleet's glob match (shell-style `*` and `?`), as Conflicts uses it. */
export function globMatch(glob: string, name: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(name);
}
