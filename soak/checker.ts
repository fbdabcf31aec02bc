// The soak's invariants, checked on observations taken as values: pure, so each rule is pinned
// by fast tests (test/soak/checker.test.ts). Each check returns the violations it found, one
// line each; an empty list means the invariant holds.
import type { Desired, Rules } from './units.js';
import { globMatch } from './units.js';

export interface UnitRun {
  activeState: string;
  subState: string;
  mainPid: string;
  activeEnterMonotonic: string;
}

export interface MachineObservation {
  name: string;
  id: string;
  /** Identifies one boot of the machine (the host PID of its PID 1). */
  boot: number;
  metadata: Readonly<Record<string, string>>;
  alive: boolean;
  /** fleet.service is active. */
  fleetActive: boolean;
  /** Files in fleet's units directory. */
  files: readonly string[];
  /** systemd's view of the soak's units loaded there. */
  runs: Readonly<Record<string, UnitRun>>;
}

export interface UnitRecord {
  hash: string;
  desiredState: string;
}

/** What etcd holds, decoded. */
export interface RegistryObservation {
  units: Readonly<Record<string, UnitRecord>>;
  globals: Readonly<Record<string, UnitRecord>>;
  placements: Readonly<Record<string, string>>;
  schedule: ReadonlyArray<{ machineId: string; unit: string; desiredState: string }>;
  /** Presence: machine ID → ID of the lease its key hangs on. */
  machines: Readonly<Record<string, string>>;
  /** Every lease etcd grants, with the keys attached to it. */
  leases: ReadonlyArray<{ id: string; keys: readonly string[] }>;
}

export interface Observation {
  atMs: number;
  registry: RegistryObservation;
  machines: readonly MachineObservation[];
}

/** Something PID 1 logged about a unit on a machine. */
export interface MachineEvent {
  machine: string;
  unit: string;
  message: string;
  atMs: number;
}

/** Why units may legitimately stop or restart: on a machine, or of a unit, for a time. */
export interface Cause {
  unit?: string;
  machine?: string;
  fromMs: number;
  toMs: number;
  reason: string;
}

/** What the workload asked of a unit last. */
export interface Expected {
  hash: string;
  desired: Desired;
  rules: Rules;
}

export type Invariant = 'a' | 'b' | 'c' | 'd' | 'e';
export const INVARIANTS: readonly Invariant[] = ['a', 'b', 'c', 'd', 'e'];

export interface CheckInput {
  expected: Readonly<Record<string, Expected>>;
  /** The observation the previous check judged (null for the first check). */
  previous: Observation | null;
  current: Observation;
  /** PID 1's messages about the soak's units since the previous observation. */
  events: readonly MachineEvent[];
  causes: readonly Cause[];
}

export type Violations = Record<Invariant, string[]>;

export function check(input: CheckInput): Violations {
  return {
    a: checkDesired(input.expected, input.current.registry),
    b: checkPlacement(input.expected, input.current),
    c: checkDisruptions(input.previous, input.current, input.events, input.causes),
    d: checkStray(input.expected, input.current),
    e: checkLeases(input.current),
  };
}

/** Machines that count as live: up, fleetd active and present in etcd. */
export function liveMachines(obs: Observation): MachineObservation[] {
  return obs.machines.filter(
    (m) => m.alive && m.fleetActive && obs.registry.machines[m.id] !== undefined,
  );
}

function matches(m: MachineObservation, rules: Rules): boolean {
  return rules.metadata === undefined || m.metadata[rules.metadata[0]] === rules.metadata[1];
}

function active(m: MachineObservation, unit: string): boolean {
  return m.runs[unit]?.activeState === 'active';
}

/** (a) Desired state in etcd is what the workload last asked: same units, content, state. */
export function checkDesired(
  expected: Readonly<Record<string, Expected>>,
  registry: RegistryObservation,
): string[] {
  const found: string[] = [];
  const names = new Set([...Object.keys(expected), ...Object.keys(registry.units)]);
  for (const name of [...names].sort()) {
    const want = expected[name];
    const have = registry.units[name];
    if (want === undefined) {
      found.push(`${name} is in etcd (${have?.desiredState}) but the workload destroyed it`);
    } else if (have === undefined) {
      found.push(`${name} is missing from etcd; the workload asked ${want.desired}`);
    } else if (have.hash !== want.hash || have.desiredState !== want.desired) {
      found.push(
        `${name} is ${have.desiredState} ${have.hash.slice(0, 7)} in etcd; the workload asked ` +
          `${want.desired} ${want.hash.slice(0, 7)}`,
      );
    }
    const global = registry.globals[name];
    if (want?.rules.global === true && have !== undefined) {
      if (global?.hash !== have.hash || global.desiredState !== have.desiredState) {
        found.push(`${name}: the global record disagrees with the unit record`);
      }
    } else if (global !== undefined) {
      found.push(`${name} has a global record but is not a global unit of the workload`);
    }
  }
  return found;
}

/**
 * (b) Every launched non-global unit is active on exactly one live machine that satisfies its
 * rules; every launched global unit on exactly the live machines that match it. Every machine
 * of the cluster is live.
 */
export function checkPlacement(
  expected: Readonly<Record<string, Expected>>,
  obs: Observation,
): string[] {
  const found: string[] = [];
  const live = liveMachines(obs);
  for (const m of obs.machines) {
    if (!live.includes(m)) {
      const why = !m.alive ? 'down' : !m.fleetActive ? 'fleetd not active' : 'not in etcd';
      found.push(`machine ${m.name} is not live (${why})`);
    }
  }
  for (const [name, want] of Object.entries(expected).sort(([x], [y]) => x.localeCompare(y))) {
    if (want.desired !== 'launched') continue;
    const on = obs.machines.filter((m) => active(m, name));
    const where = on.map((m) => m.name).join(', ') || 'nowhere';
    if (want.rules.global) {
      const should = live.filter((m) => matches(m, want.rules)).map((m) => m.name);
      if (on.map((m) => m.name).join(', ') !== should.join(', ')) {
        found.push(`global ${name} is active on ${where}; it belongs on ${should.join(', ')}`);
      }
      continue;
    }
    if (on.length !== 1) {
      found.push(`${name} is active on ${where}, not on exactly one machine`);
      continue;
    }
    const m = on[0]!;
    if (!live.includes(m)) found.push(`${name} is active on ${m.name}, which is not live`);
    if (!matches(m, want.rules))
      found.push(`${name} is active on ${m.name}, whose metadata does not match`);
    const of = want.rules.machineOf;
    if (of !== undefined && !active(m, of)) {
      found.push(`${name} is active on ${m.name} without its MachineOf ${of}`);
    }
    const glob = want.rules.conflicts;
    if (glob !== undefined) {
      const clash = Object.keys(m.runs).filter(
        (other) => other !== name && globMatch(glob, other) && active(m, other),
      );
      if (clash.length > 0) found.push(`${name} is active on ${m.name} with ${clash.join(', ')}`);
    }
  }
  return found;
}

/**
 * PID 1's messages that mean a unit's run ended or is ending (`Stopping …`, `Stopped …`,
 * `<unit>: Deactivated successfully.`, `<unit>: Main process exited …`, …). Starts, and
 * notices such as a reload's, end nothing.
 */
export function endsRun(message: string): boolean {
  const text = message.replace(/^\S+\.[a-z]+: /, '');
  return /^(Stopping|Stopped|Deactivated|Failed|Main process exited|Killing|Scheduled restart|Succeeded|Consumed)\b/.test(
    text,
  );
}

/** Whether a cause explains a disruption of `unit` on `machine` in [fromMs, toMs]. */
export function explains(
  cause: Cause,
  unit: string,
  machine: string,
  fromMs: number,
  toMs: number,
): boolean {
  return (
    (cause.unit === undefined || cause.unit === unit) &&
    (cause.machine === undefined || cause.machine === machine) &&
    cause.fromMs <= toMs &&
    fromMs <= cause.toMs
  );
}

/**
 * (c) No unit was stopped or restarted without a cause. A run is a unit active on a machine
 * with a MainPID and activation time; one active at the previous observation must still be,
 * unchanged, on the same boot of the machine, and PID 1 must have logged no end of a run since.
 */
export function checkDisruptions(
  previous: Observation | null,
  current: Observation,
  events: readonly MachineEvent[],
  causes: readonly Cause[],
): string[] {
  const found: string[] = [];
  const unexplained = (unit: string, machine: string, fromMs: number, toMs: number) =>
    !causes.some((c) => explains(c, unit, machine, fromMs, toMs));
  if (previous !== null) {
    for (const before of previous.machines) {
      const now = current.machines.find((m) => m.name === before.name);
      for (const [unit, run] of Object.entries(before.runs)) {
        if (run.activeState !== 'active') continue;
        const after = now !== undefined && now.boot === before.boot ? now.runs[unit] : undefined;
        const same =
          after?.activeState === 'active' &&
          after.mainPid === run.mainPid &&
          after.activeEnterMonotonic === run.activeEnterMonotonic;
        // The window opens just after the previous observation, which judged what came before.
        if (same || !unexplained(unit, before.name, previous.atMs + 1, current.atMs)) continue;
        const what =
          after === undefined
            ? now?.boot === before.boot
              ? 'is gone'
              : 'is gone with its machine'
            : after.activeState !== 'active'
              ? `is ${after.activeState}`
              : `was restarted (PID ${run.mainPid} → ${after.mainPid})`;
        found.push(`${unit} on ${before.name} ${what}, and nothing explains it`);
      }
    }
  }
  for (const e of events) {
    if (!endsRun(e.message) || !unexplained(e.unit, e.machine, e.atMs, e.atMs)) continue;
    found.push(
      `${e.machine}: ${e.unit}: "${e.message}" at ${new Date(e.atMs).toISOString()}, and nothing explains it`,
    );
  }
  return found;
}

/**
 * (d) No unit file or running unit that the schedule does not name. Each live machine holds
 * the files of exactly its schedule in etcd (plus the global units matching it), runs only
 * units scheduled there as launched, and etcd's schedule names only the workload's units, as
 * asked, on live machines.
 */
export function checkStray(
  expected: Readonly<Record<string, Expected>>,
  obs: Observation,
): string[] {
  const found: string[] = [];
  const live = liveMachines(obs);
  const reg = obs.registry;
  for (const s of reg.schedule) {
    const want = expected[s.unit];
    const m = live.find((x) => x.id === s.machineId);
    if (want === undefined || want.desired === 'inactive' || want.rules.global) {
      found.push(
        `etcd schedules ${s.unit} on ${m?.name ?? s.machineId}, which the workload does not`,
      );
    } else if (m === undefined) {
      found.push(`etcd schedules ${s.unit} on ${s.machineId}, which is not live`);
    } else if (s.desiredState !== want.desired) {
      found.push(
        `etcd schedules ${s.unit} ${s.desiredState} on ${m.name}; the workload asked ${want.desired}`,
      );
    }
    if (reg.placements[s.unit] !== s.machineId) {
      found.push(
        `${s.unit} is scheduled on ${m?.name ?? s.machineId} but placed on ${reg.placements[s.unit] ?? 'no machine'}`,
      );
    }
  }
  for (const m of live) {
    const named = new Map<string, string>();
    for (const s of reg.schedule) if (s.machineId === m.id) named.set(s.unit, s.desiredState);
    for (const [unit, g] of Object.entries(reg.globals)) {
      const rules = expected[unit]?.rules;
      if (g.desiredState !== 'inactive' && rules !== undefined && matches(m, rules)) {
        named.set(unit, g.desiredState);
      }
    }
    const files = new Set(m.files);
    for (const f of [...files].sort()) {
      if (!named.has(f))
        found.push(`${m.name} holds the unit file ${f}, which its schedule does not name`);
    }
    for (const unit of [...named.keys()].sort()) {
      if (!files.has(unit))
        found.push(`${m.name} lacks the unit file of ${unit}, which its schedule names`);
    }
    for (const unit of Object.keys(m.runs).sort()) {
      if (active(m, unit) && named.get(unit) !== 'launched') {
        found.push(`${m.name} runs ${unit}, which its schedule does not launch there`);
      }
    }
  }
  for (const m of obs.machines.filter((x) => x.alive && !live.includes(x))) {
    for (const unit of Object.keys(m.runs).sort()) {
      if (active(m, unit)) found.push(`${m.name} runs ${unit} but is not live`);
    }
  }
  return found;
}

/** (e) No lease that no live fleetd holds: each lease carries the presence of a live machine. */
export function checkLeases(obs: Observation): string[] {
  const found: string[] = [];
  const live = liveMachines(obs);
  for (const lease of obs.registry.leases) {
    const holder = Object.entries(obs.registry.machines).find(([, l]) => l === lease.id)?.[0];
    if (holder === undefined) {
      found.push(
        `lease ${lease.id} carries no machine's presence (keys: ${lease.keys.join(', ') || 'none'})`,
      );
    } else if (!live.some((m) => m.id === holder)) {
      found.push(`lease ${lease.id} holds the presence of ${holder}, which runs no live fleetd`);
    }
  }
  for (const m of live) {
    const held = obs.registry.leases.filter((l) => l.id === obs.registry.machines[m.id]);
    if (held.length === 0) found.push(`${m.name}'s presence hangs on no lease`);
  }
  return found;
}
