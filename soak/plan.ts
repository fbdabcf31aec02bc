// The soak's plan, a pure function of the seed: the workload's operations and the faults of
// each round, and what the workload has asked for after each round. Replaying a seed replays
// the same rounds in the same order.
import { type Random, seededRandom } from './random.js';
import { Catalogue, type Desired } from './units.js';

/** What the workload asked of a unit last; a unit missing from the model is destroyed. */
export interface UnitWish {
  version: number;
  desired: Desired;
}
export type Model = ReadonlyMap<string, UnitWish>;

export type Transport = 'api' | 'fleetctl';

/**
 * One workload operation on a group's units: `submit` creates (or, through the API, replaces)
 * them with a version and a desired state; `set-state` changes only the desired state;
 * `destroy` removes them.
 */
export type Op =
  | { kind: 'submit'; units: readonly string[]; version: number; desired: Desired; via: Transport }
  | { kind: 'set-state'; units: readonly string[]; desired: Desired; via: Transport }
  | { kind: 'destroy'; units: readonly string[]; via: Transport };

export const FAULT_KINDS = [
  'fleetd-kill',
  'fleetd-restart',
  'dbus-restart',
  'daemon-reexec',
  'power-off',
  'machine-replace',
  'partition',
  'etcd-restart',
  'etcd-leader-move',
  'sighup',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultPlan {
  kind: FaultKind;
  /** The machine it hits (by name), or for etcd-restart the etcd member (from 1). */
  target: string;
  /** How long the fault holds (partitions, power-off) before it is undone, in agent_ttl. */
  holdTtl: number;
}

export interface Round {
  index: number;
  before: readonly Op[];
  fault: FaultPlan;
  /** Operations while the fault holds, through a machine it does not hit. */
  during: readonly Op[];
  /**
   * Once the fault is over: a change every machine must carry out, so that an agent the
   * fault left unable to act (a bus it lost, a watch that never resumed) shows at the check.
   */
  after: readonly Op[];
  /** What the workload has asked for once the round's operations are done. */
  model: Model;
}

export interface PlanOptions {
  machines: number;
  etcdMembers: number;
}

/** Partition lengths in agent_ttl: shorter than a lease, and well past one. */
export const SHORT_PARTITION_TTL = 0.3;
export const LONG_PARTITION_TTL = 2.5;
/** A powered-off machine stays off long enough for its units to move. */
export const POWER_OFF_TTL = 2;

/** The operations that start the soak: most groups created, launched. */
export function initialOps(seed: number, catalogue: Catalogue): { ops: Op[]; model: Model } {
  const rng = seededRandom(seed ^ 0x5eed);
  const model = new Map<string, UnitWish>();
  const ops: Op[] = [];
  for (const g of catalogue.groups) {
    if (rng.chance(0.2)) continue;
    const op: Op = {
      kind: 'submit',
      units: g.units,
      version: 1,
      desired: rng.chance(0.85) ? 'launched' : 'loaded',
      via: rng.chance(0.5) ? 'api' : 'fleetctl',
    };
    ops.push(op);
    applyOp(model, op);
  }
  return { ops, model };
}

/** The rounds of a soak, endless: the caller stops when its time is up. */
export function* planRounds(seed: number, opts: PlanOptions): Generator<Round> {
  const catalogue = new Catalogue(opts.machines);
  const model = new Map(initialOps(seed, catalogue).model);
  const rng = seededRandom(seed);
  let deck: FaultKind[] = [];
  let version = 1;
  for (let index = 1; ; index++) {
    // Faults are dealt from a shuffled deck of every kind: the first ten rounds inject ten
    // different kinds, so even a short soak sees several.
    if (deck.length === 0) deck = rng.shuffle(FAULT_KINDS);
    const kind = deck.shift()!;
    const fault = faultPlan(rng, kind, opts);
    const before = Array.from({ length: rng.between(1, 3) }, () => {
      const op = nextOp(rng, catalogue, model, ++version);
      applyOp(model, op);
      return op;
    });
    const during = Array.from({ length: rng.between(0, 2) }, () => {
      const op = nextOp(rng, catalogue, model, ++version);
      applyOp(model, op);
      return op;
    });
    const after = [probeOp(model, ++version)];
    for (const op of after) applyOp(model, op);
    yield { index, before, fault, during, after, model: new Map(model) };
  }
}

function faultPlan(rng: Random, kind: FaultKind, opts: PlanOptions): FaultPlan {
  const machine = `m${rng.between(1, opts.machines)}`;
  switch (kind) {
    case 'partition':
      return {
        kind,
        target: machine,
        holdTtl: rng.chance(0.5) ? SHORT_PARTITION_TTL : LONG_PARTITION_TTL,
      };
    case 'power-off':
      return { kind, target: machine, holdTtl: POWER_OFF_TTL };
    case 'etcd-restart':
      return { kind, target: String(rng.between(1, opts.etcdMembers)), holdTtl: 0 };
    case 'etcd-leader-move':
      return { kind, target: 'leader', holdTtl: 0 };
    default:
      return { kind, target: machine, holdTtl: 0 };
  }
}

/** A random operation that makes sense for the group's current state. */
function nextOp(rng: Random, catalogue: Catalogue, model: Model, version: number): Op {
  const group = rng.pick(catalogue.groups);
  const units = group.units;
  const via: Transport = rng.chance(0.5) ? 'api' : 'fleetctl';
  const wish = model.get(units[0]!);
  if (wish === undefined) {
    return {
      kind: 'submit',
      units,
      version,
      desired: rng.chance(0.85) ? 'launched' : 'loaded',
      via,
    };
  }
  // Weighted towards running units, so the cluster stays busy while units come and go.
  const replace = (): Op => ({
    kind: 'submit',
    units: [rng.pick(units)],
    version,
    desired: wish.desired,
    // Replacing a unit's content goes through the API: fleetctl keeps what is submitted.
    via: 'api',
  });
  const destroy = (): Op => ({ kind: 'destroy', units: [...units].reverse(), via });
  const set = (desired: Desired) => (): Op => ({ kind: 'set-state', units, desired, via });
  const choices =
    wish.desired === 'launched'
      ? [replace, replace, replace, set('loaded'), set('inactive'), destroy]
      : [set('launched'), set('launched'), set('launched'), set('launched'), replace, destroy];
  return rng.pick(choices)();
}

/** The global unit every machine runs: the probe after each fault stops or starts it. */
export const PROBE_UNIT = 'soak-global-all.service';

/**
 * Starts the probe unit everywhere if it is not launched, else stops it everywhere: either
 * way every live machine's agent has to act, through fleetctl, within the quiet period.
 */
export function probeOp(model: Model, version: number): Op {
  const wish = model.get(PROBE_UNIT);
  if (wish === undefined) {
    return { kind: 'submit', units: [PROBE_UNIT], version, desired: 'launched', via: 'fleetctl' };
  }
  const desired = wish.desired === 'launched' ? 'loaded' : 'launched';
  return { kind: 'set-state', units: [PROBE_UNIT], desired, via: 'fleetctl' };
}

/** The model after an operation. */
export function applyOp(model: Map<string, UnitWish>, op: Op): void {
  for (const name of op.units) {
    if (op.kind === 'destroy') model.delete(name);
    else if (op.kind === 'submit') model.set(name, { version: op.version, desired: op.desired });
    else {
      const wish = model.get(name);
      if (wish !== undefined) model.set(name, { ...wish, desired: op.desired });
    }
  }
}

/** One line describing an operation, for the soak's output. */
export function describeOp(op: Op): string {
  const what =
    op.kind === 'submit'
      ? `submit v${op.version} ${op.desired}`
      : op.kind === 'set-state'
        ? `set ${op.desired}`
        : 'destroy';
  return `${what} ${op.units.join(' ')} (${op.via})`;
}
