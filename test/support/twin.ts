import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.js';
import type { HealthCommandRunner } from '../../src/agent/health-command.js';
import { Engine } from '../../src/engine/engine.js';
import { RegistryKeys } from '../../src/registry/keys.js';
import { openMemoryRegistry } from '../../src/registry/memory/registry.js';
import { MemoryStore } from '../../src/registry/memory/store.js';
import type { StoredBody } from '../../src/registry/model.js';
import type {
  FencedScheduleWrites,
  Leadership,
  PresenceLease,
  RegistrySeam,
  UnitBodies,
} from '../../src/registry/ports.js';
import type { ScheduleEntry } from '../../src/registry/records.js';
import { FakeUnitManager } from '../../src/systemd/fake-unit-manager.js';
import { FakeClock, settle } from './fake-clock.js';

/** The lease TTL every twin machine asks for. */
export const TTL_MS = 3_000;
/** The engine's and the agent's safety-net tick. */
export const INTERVAL_MS = 1_000;
/** Event loop turns after which every pass, watch and body read a change set off is done. */
const QUIET_TURNS = 40;

/** One fleetd on the twin: its own registry over the shared store, as each fleetd has its own. */
export interface TwinMachine {
  machineID: string;
  seam: RegistrySeam;
  lease: PresenceLease;
  leadership: Leadership;
  engine: Engine | null;
  agent: Agent | null;
  manager: FakeUnitManager;
  /** Every log line, in order. */
  logs: string[];
  crashed: boolean;
  /** Dies as a SIGKILLed fleetd does: nothing is cleaned up, the lease runs out. */
  crash(): Promise<void>;
}

export interface TwinMachineOptions {
  metadata?: Record<string, string>;
  engine?: boolean;
  agent?: boolean;
  /** Stands between the engine and the registry's fenced writes (races, failures). */
  writer?: (writer: FencedScheduleWrites) => FencedScheduleWrites;
  /** Stands between the engine and the unit bodies (slow reads). */
  bodies?: (bodies: UnitBodies) => UnitBodies;
  /** Runs rollouts' health commands in place of a shell. */
  healthCommand?: HealthCommandRunner;
}

/**
 * A cluster on the registry's in-memory twin, on a fake clock: engines and agents as fleetd
 * wires them, systemd faked, every pass run to its end before a test looks.
 */
export class Twin {
  readonly clock = new FakeClock(1_000_000);
  readonly store = new MemoryStore(this.clock);
  readonly keys = new RegistryKeys();
  /** An API client's view of the cluster. */
  readonly client = openMemoryRegistry(this.store);
  private readonly machines: TwinMachine[] = [];

  async start(machineID: string, options: TwinMachineOptions = {}): Promise<TwinMachine> {
    const logs: string[] = [];
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _encoding, done) {
          logs.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
          done();
        },
      }),
    );
    const seam = openMemoryRegistry(this.store);
    const lease = await seam.presence.open(
      {
        id: machineID,
        publicIP: '10.0.0.1',
        metadata: options.metadata ?? {},
        capabilities: { disableEngine: options.engine === false },
        version: 'test',
        sessionToken: `session-${machineID}`,
      },
      TTL_MS,
    );
    const leadership = seam.leadership(lease);
    const manager = new FakeUnitManager();
    let agent: Agent | null = null;
    if (options.agent !== false) {
      agent = new Agent({
        machineID,
        configuredMetadata: options.metadata ?? {},
        feed: seam.agentSchedule(machineID, () => agent?.trigger()),
        manager,
        bodies: seam.bodies,
        publisher: seam.publications(lease),
        log,
        reconcileIntervalMs: INTERVAL_MS,
        watches: true,
        clock: this.clock,
        ...(options.healthCommand !== undefined && { healthCommand: options.healthCommand }),
      });
      await agent.start();
    }
    let engine: Engine | null = null;
    if (options.engine !== false) {
      engine = new Engine({
        machineID,
        feed: seam.engineView(() => engine?.trigger()),
        leadership,
        writer: options.writer?.(seam.scheduleWriter) ?? seam.scheduleWriter,
        bodies: options.bodies?.(seam.bodies) ?? seam.bodies,
        drains: { states: seam.states, progress: seam.drainProgress },
        rollouts: seam.rollouts,
        log,
        reconcileIntervalMs: INTERVAL_MS,
        machineGraceMs: lease.grantedTtlSeconds * 1000,
        watches: true,
        clock: this.clock,
      });
      await engine.start();
    }
    const machine: TwinMachine = {
      machineID,
      seam,
      lease,
      leadership,
      engine,
      agent,
      manager,
      logs,
      crashed: false,
      crash: async () => {
        machine.crashed = true;
        await engine?.stop({ resign: false });
        await agent?.stop();
        lease.abandon();
      },
    };
    this.machines.push(machine);
    await this.quiet();
    return machine;
  }

  /** Lets every pass, watch delivery and body read under way run to its end. */
  quiet(): Promise<void> {
    return settle(QUIET_TURNS);
  }

  /** Moves the clock on a tick at a time, letting each tick's passes run to their end. */
  async elapse(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= INTERVAL_MS / 2) {
      this.clock.advance(Math.min(left, INTERVAL_MS / 2));
      await this.quiet();
    }
  }

  /** The machine each unit is placed on, as the API shows it. */
  async placements(): Promise<Record<string, string | null>> {
    const units = await this.client.cluster.units();
    return Object.fromEntries(units.map((unit) => [unit.name, unit.machineID]));
  }

  /** A machine's schedule entry for a unit, as its agent reads it. */
  scheduleEntry(machineID: string, name: string): ScheduleEntry | null {
    const [kv] = this.store.range(this.keys.scheduleEntry(machineID, name)).kvs;
    return kv === undefined ? null : (JSON.parse(kv.value) as ScheduleEntry);
  }

  /** The one running machine whose engine holds leadership. */
  leader(): TwinMachine {
    const leaders = this.machines.filter(
      (machine) => !machine.crashed && machine.leadership.fence !== null,
    );
    if (leaders.length !== 1) throw new Error(`${leaders.length} machines think they lead`);
    return leaders[0]!;
  }

  async stop(): Promise<void> {
    for (const { engine, agent } of this.machines) {
      await engine?.stop({ resign: false });
      await agent?.stop();
    }
  }
}

/** Unit bodies whose reads of `hashes` wait until `release` is called: a slow etcd. */
export function slowBodies(
  bodies: UnitBodies,
  hashes: ReadonlySet<string>,
): { bodies: UnitBodies; release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const held = async <T>(hash: string, read: () => Promise<T>): Promise<T> => {
    if (hashes.has(hash)) await gate;
    return read();
  };
  return {
    bodies: {
      cached: (hash) => bodies.cached(hash),
      get: (hash) => held(hash, () => bodies.get(hash)),
      body: (hash): Promise<StoredBody> => held(hash, () => bodies.body(hash)),
    },
    release: () => release(),
  };
}
