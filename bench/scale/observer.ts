import type { Etcd3 } from 'etcd3';
import { etcdMirrorSource } from '../../src/registry/etcd-mirror-source.js';
import type { RegistryKeys } from '../../src/registry/keys.js';
import type { MirrorHandle } from '../../src/registry/prefix-mirror.js';

/**
 * What the benchmark watches the cluster do, the way an API client would see it: live
 * machines, placements and published states, each from one list-then-watch of its prefix.
 * Counts are kept up to date per event, so checking progress costs nothing.
 *
 * A unit counts as launched when the machine it is placed on publishes a state for it with
 * `launched: true`: the API's `currentState` of `launched` (see `currentStateOf` in
 * src/registry/model.ts).
 */
export class ClusterObserver {
  readonly machines = new Set<string>();
  readonly placements = new Map<string, string>();
  /** unit → machine → launched flag of the state that machine published. */
  private readonly states = new Map<string, Map<string, boolean>>();
  private readonly launched = new Set<string>();
  private readonly handles: MirrorHandle[] = [];
  /** Called after every change, for waiters. */
  onChange: () => void = () => undefined;

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
  ) {}

  get placedCount(): number {
    return this.placements.size;
  }

  get launchedCount(): number {
    return this.launched.size;
  }

  async start(): Promise<void> {
    const { keys } = this;
    this.handles.push(
      this.watch(keys.machinesPrefix, (key, value) => {
        const id = key.slice(keys.machinesPrefix.length);
        if (value === null) this.machines.delete(id);
        else this.machines.add(id);
      }),
      this.watch(keys.placementsPrefix, (key, value) => {
        const name = key.slice(keys.placementsPrefix.length);
        if (value === null || value === '') this.placements.delete(name);
        else this.placements.set(name, value);
        this.recheck(name);
      }),
      this.watch(keys.statesPrefix, (key, value) => {
        const [name, machineID] = key.slice(keys.statesPrefix.length).split('/');
        if (name === undefined || machineID === undefined) return;
        let byMachine = this.states.get(name);
        if (value === null) {
          byMachine?.delete(machineID);
          if (byMachine?.size === 0) this.states.delete(name);
        } else {
          byMachine ??= new Map();
          this.states.set(name, byMachine);
          byMachine.set(machineID, (JSON.parse(value) as { launched?: boolean }).launched === true);
        }
        this.recheck(name);
      }),
    );
    await Promise.all(this.handles.map((handle) => handle.ready));
  }

  /** Whether `name` is placed and its target machine reports it launched. */
  isLaunched(name: string): boolean {
    return this.launched.has(name);
  }

  async stop(): Promise<void> {
    await Promise.all(this.handles.map((handle) => handle.stop()));
  }

  private recheck(name: string): void {
    const target = this.placements.get(name);
    if (target !== undefined && this.states.get(name)?.get(target) === true) {
      this.launched.add(name);
    } else {
      this.launched.delete(name);
    }
  }

  private watch(prefix: string, apply: (key: string, value: string | null) => void): MirrorHandle {
    return etcdMirrorSource(this.etcd).follow(prefix, {
      onReset: (records) => {
        // Rebuilding from a listing: forget what this prefix said before.
        if (prefix === this.keys.machinesPrefix) this.machines.clear();
        if (prefix === this.keys.placementsPrefix) this.placements.clear();
        if (prefix === this.keys.statesPrefix) this.states.clear();
        this.launched.clear();
        for (const record of records) apply(record.key, record.value);
        for (const name of this.placements.keys()) this.recheck(name);
        this.onChange();
      },
      onEvent: (event) => {
        apply(event.key, event.type === 'delete' ? null : event.value);
        this.onChange();
      },
      onError: (err) => process.stderr.write(`observer: ${err.message}\n`),
    });
  }
}
