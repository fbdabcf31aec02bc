// `npm run soak -- [--minutes N] [--seed S] [--machines M]`: the chaos soak. Boots a cluster of
// real systemd machines against a three-member etcd, runs a seeded workload while injecting
// seeded faults, and after a quiet period following each round checks invariants (a)–(e)
// (soak/checker.ts). See docs/reliability.md.
import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, type ClusterMachine, ensureFreshBuild } from '../cluster/index.js';
import { harnessUnavailable, teardown } from '../harness/index.js';
import {
  type Cause,
  check,
  INVARIANTS,
  type MachineEvent,
  type Observation,
  type Violations,
} from './checker.js';
import { type FaultRecord, faultCauses, type OpRecord, workloadCauses } from './explain.js';
import { inject } from './faults.js';
import { Observer } from './observe.js';
import { describeOp, initialOps, type Model, type Op, planRounds } from './plan.js';
import { Catalogue, rackOf } from './units.js';
import { perform } from './workload.js';

const ETCD_MEMBERS = 3;

interface Args {
  minutes: number;
  seed: number;
  machines: number;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '2' },
      seed: { type: 'string' },
      machines: { type: 'string', default: '3' },
    },
    strict: true,
  });
  const minutes = Number(values.minutes);
  const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed);
  const machines = Number(values.machines);
  if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error('--seed must be an integer from 0 to 2^32-1');
  }
  if (!Number.isInteger(machines) || machines < 3 || machines > 5) {
    throw new Error('--machines must be 3, 4 or 5');
  }
  return { minutes, seed, machines };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

class Soak {
  private readonly catalogue: Catalogue;
  private readonly observer: Observer;
  private readonly startMs = Date.now();
  private previous: Observation | null = null;
  private events: MachineEvent[] = [];
  private ops: OpRecord[] = [];
  private faults: FaultRecord[] = [];
  /** Causes of earlier rounds: their windows end at their check. */
  private pastCauses: Cause[] = [];
  private checks = 0;
  readonly tally = { checked: 0, violated: 0 };
  readonly faultKinds = new Map<string, number>();

  constructor(
    private readonly cluster: Cluster,
    private readonly args: Args,
  ) {
    this.catalogue = new Catalogue(args.machines);
    this.observer = new Observer(cluster);
  }

  private at(ms = Date.now()): string {
    return `+${((ms - this.startMs) / 1000).toFixed(1)}s`;
  }

  /** A machine to send the workload through: up, fleetd running, not the one under fault. */
  private via(avoid: string | undefined): () => ClusterMachine {
    return () => {
      const m = this.cluster.live().find((x) => x.fleetRunning && x.name !== avoid);
      if (m === undefined) throw new Error('no machine to send the workload through');
      return m;
    };
  }

  private async run(ops: readonly Op[], avoid: string | undefined): Promise<void> {
    for (const op of ops) {
      this.ops.push({ atMs: Date.now(), op });
      console.log(`op ${describeOp(op)}`);
      await perform(this.cluster, this.catalogue, op, this.via(avoid), (machine, message) =>
        console.log(`  attempt through ${machine} failed: ${message.split('\n')[0]}`),
      );
    }
  }

  async go(): Promise<void> {
    const budgetMs = this.args.minutes * 60_000;
    const initial = initialOps(this.args.seed, this.catalogue);
    await this.run(initial.ops, undefined);
    await this.checkAfterQuiet(0, initial.model, this.startMs);
    let longestMs = 0;
    for (const round of planRounds(this.args.seed, {
      machines: this.args.machines,
      etcdMembers: ETCD_MEMBERS,
    })) {
      const roundStart = Date.now();
      // A round starts only if one as long as the longest so far still fits in the budget.
      if (roundStart - this.startMs + Math.max(longestMs, 20_000) > budgetMs) break;
      console.log(`round ${round.index}`);
      await this.run(round.before, undefined);
      const { record, detail } = await inject(this.cluster, round.fault, (spare) =>
        this.run(round.during, spare),
      );
      this.faults.push(record);
      this.faultKinds.set(record.kind, (this.faultKinds.get(record.kind) ?? 0) + 1);
      console.log(
        `fault ${record.kind} ${record.machine ?? round.fault.target} at ${this.at(record.startMs)}: ${detail}`,
      );
      await this.run(round.after, undefined);
      await this.checkAfterQuiet(round.index, round.model, record.endMs);
      longestMs = Math.max(longestMs, Date.now() - roundStart);
    }
  }

  /**
   * The quiet period: two agent_ttl after the last fault (a crashed fleetd's lease has expired),
   * then observations until the cluster has converged (bounded by the cluster's patience), and
   * the check on the last one.
   */
  private async checkAfterQuiet(index: number, model: Model, lastFaultMs: number): Promise<void> {
    const quietUntil = lastFaultMs + 2 * this.cluster.agentTtlMs;
    await sleep(Math.max(0, quietUntil - Date.now()));
    const expected = Object.fromEntries(
      [...model].map(([name, wish]) => [
        name,
        {
          hash: this.catalogue.hash(name, wish.version),
          desired: wish.desired,
          rules: this.catalogue.rulesOf(name),
        },
      ]),
    );
    const deadline = Date.now() + this.cluster.patienceMs;
    let current: Observation;
    let violations: Violations;
    let causes: Cause[];
    for (;;) {
      const seen = await this.observer.observe();
      current = seen.observation;
      this.events.push(...seen.events);
      causes = [
        ...this.pastCauses,
        ...workloadCauses(this.ops, this.catalogue, current.atMs),
        ...faultCauses(this.faults, this.cluster.agentTtlMs, current.atMs),
      ];
      violations = check({
        expected,
        previous: this.previous,
        current,
        events: this.events,
        causes,
      });
      const settled = INVARIANTS.every((i) => i === 'c' || violations[i].length === 0);
      if (settled || Date.now() >= deadline) break;
      await sleep(1_000);
    }
    await this.report(index, current, violations);
    // Causes keep their window up to this check; what follows is judged afresh.
    this.pastCauses = causes;
    this.ops = [];
    this.faults = [];
    this.events = [];
    this.previous = current;
  }

  private async report(index: number, current: Observation, violations: Violations): Promise<void> {
    this.checks++;
    const parts = INVARIANTS.map((i) =>
      violations[i].length === 0 ? `(${i}) ok` : `(${i}) VIOLATED`,
    );
    const units = current.machines.reduce(
      (n, m) => n + Object.values(m.runs).filter((r) => r.activeState === 'active').length,
      0,
    );
    console.log(
      `check ${this.checks} after round ${index} at ${this.at(current.atMs)}: ${parts.join(' ')} ` +
        `(${units} unit runs on ${current.machines.filter((m) => m.alive).length} machines)`,
    );
    for (const i of INVARIANTS) {
      this.tally.checked++;
      if (violations[i].length > 0) this.tally.violated++;
      for (const v of violations[i]) console.log(`  (${i}) ${v}`);
    }
    if (INVARIANTS.some((i) => violations[i].length > 0)) {
      console.log(`  logs: ${await this.saveJournals(this.checks)}`);
    }
  }

  /** Every live machine's journal (fleetd's and PID 1's lines) at a violated check, in files. */
  private async saveJournals(check: number): Promise<string> {
    const dir = join(tmpdir(), `fleet-soak-${this.args.seed}`);
    mkdirSync(dir, { recursive: true });
    for (const m of this.cluster.live()) {
      const text = await this.cluster.journal(m, { output: 'short-iso-precise' }).catch(String);
      writeFileSync(join(dir, `check-${check}-${m.name}.log`), text);
    }
    return dir;
  }

  /** The last lines of fleetd's log on each machine, after a violation. */
  async journals(): Promise<string> {
    return this.cluster.fleetJournalTails(40);
  }
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const unavailable = harnessUnavailable();
  if (unavailable !== undefined) {
    console.log(`soak skipped: ${unavailable}`);
    console.log('invariants: 0 checked, 0 violated');
    return 0;
  }
  const replay = `npm run soak -- --seed ${args.seed} --minutes ${args.minutes} --machines ${args.machines}`;
  console.log(
    `soak: seed ${args.seed}, ${args.minutes} minute(s), ${args.machines} machines, ` +
      `${ETCD_MEMBERS} etcd members`,
  );
  await ensureFreshBuild((line) => console.log(`soak: ${line}`));
  const bootMs = Date.now();
  const cluster = await Cluster.start({
    name: 'soak',
    machines: Array.from({ length: args.machines }, (_, i) => ({
      name: `m${i + 1}`,
      metadata: { rack: rackOf(i + 1) },
    })),
    etcdMembers: ETCD_MEMBERS,
  });
  console.log(
    `soak: cluster up in ${((Date.now() - bootMs) / 1000).toFixed(1)}s ` +
      `(agent_ttl ${cluster.agentTtlMs / 1000}s)`,
  );
  const soak = new Soak(cluster, args);
  let failure: unknown;
  try {
    await soak.go();
  } catch (e) {
    failure = e;
    console.log(`soak: aborted: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (failure !== undefined || soak.tally.violated > 0) {
    console.log(`soak: fleetd's log on each machine:\n${await soak.journals().catch(String)}`);
  }
  const kinds = [...soak.faultKinds].map(([k, n]) => `${k} ${n}`).join(', ');
  console.log(`faults: ${kinds || 'none'}`);
  console.log(`invariants: ${soak.tally.checked} checked, ${soak.tally.violated} violated`);
  console.log(`seed ${args.seed}; replay with: ${replay}`);
  return failure !== undefined || soak.tally.violated > 0 ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`soak: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  await teardown();
}
process.exit(code);
