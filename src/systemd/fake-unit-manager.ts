import { createHash } from 'node:crypto';
import { hasInstallSection } from './install-section.js';
import { SystemdError } from './systemd-error.js';
import { type SystemdUnitState, UNKNOWN_UNIT_STATE, type UnitManager } from './unit-manager.js';
import { assertValidUnitName, isUnitFileName } from './unit-name-guard.js';

export type FakeMethod =
  | 'listUnitFiles'
  | 'load'
  | 'unload'
  | 'reload'
  | 'start'
  | 'stop'
  | 'states';

export interface FakeCall {
  method: FakeMethod;
  /** The unit name, or every name asked for by `states`. */
  args: readonly string[];
}

export interface FakeUnitManagerOptions {
  /** Unit files already in the units directory (a host where fleetd ran before). */
  files?: Record<string, string>;
  /** Units already running, e.g. left behind by a fleetd that crashed. */
  running?: readonly string[];
  /**
   * Files among `files` that were written but never linked (fleetd stopped in between):
   * systemd does not find them (`not-found`) until they are loaded.
   */
  unlinked?: readonly string[];
}

/**
 * An in-memory UnitManager for fast tests of the agent, observably like the D-Bus one:
 * a loaded unit is `loaded/inactive/dead`, started `loaded/active/running`, stopped
 * `loaded/inactive/dead`; an unloaded, unknown or unlinked one `not-found/inactive/dead`; a unit still
 * running after its file went is `not-found/active/running`. Stopping a unit systemd does not
 * know succeeds, starting one fails with systemd's message. Starts and stops take effect at
 * once and notify change listeners on the next microtask, as systemd's signals would.
 */
export class FakeUnitManager implements UnitManager {
  /** Unit files present, name → text. */
  readonly files = new Map<string, string>();
  /** Units enabled because their text has an [Install] section. */
  readonly enabled = new Set<string>();
  /** Every call, in order. */
  readonly calls: FakeCall[] = [];
  private readonly running = new Set<string>();
  private readonly unlinked = new Set<string>();
  private readonly overrides = new Map<string, SystemdUnitState>();
  private readonly failures: { method: FakeMethod; name: string | undefined; error: Error }[] = [];
  private readonly listeners: (() => void)[] = [];

  constructor(options: FakeUnitManagerOptions = {}) {
    for (const [name, text] of Object.entries(options.files ?? {})) this.files.set(name, text);
    for (const name of options.running ?? []) this.running.add(name);
    for (const name of options.unlinked ?? []) this.unlinked.add(name);
  }

  /** Change listeners registered and not yet removed. */
  get listenerCount(): number {
    return this.listeners.length;
  }

  /** Number of daemon-reloads asked for. */
  get reloads(): number {
    return this.calls.filter((call) => call.method === 'reload').length;
  }

  /** Makes the next call of `method` (for `name`, if given) fail with `error`. */
  failNext(method: FakeMethod, error: Error, name?: string): void {
    this.failures.push({ method, name, error });
  }

  /** Sets what systemd reports for a unit (e.g. `loaded/failed/failed`) until its next start or stop. */
  setSystemdState(name: string, state: SystemdUnitState): void {
    this.overrides.set(name, { ...state });
    this.changed();
  }

  async listUnitFiles(): Promise<Map<string, string>> {
    this.record('listUnitFiles', []);
    const hashes = new Map<string, string>();
    for (const [name, text] of this.files) {
      if (!isUnitFileName(name)) continue;
      hashes.set(name, createHash('sha1').update(text, 'utf8').digest('hex'));
    }
    return hashes;
  }

  async load(name: string, text: string): Promise<void> {
    assertValidUnitName(name);
    this.record('load', [name]);
    this.files.set(name, text);
    this.unlinked.delete(name);
    if (hasInstallSection(text)) this.enabled.add(name);
  }

  async unload(name: string): Promise<void> {
    assertValidUnitName(name);
    this.record('unload', [name]);
    this.stopRunning(name);
    this.enabled.delete(name);
    this.files.delete(name);
    this.unlinked.delete(name);
  }

  async reload(): Promise<void> {
    this.record('reload', []);
  }

  async start(name: string): Promise<void> {
    assertValidUnitName(name);
    this.record('start', [name]);
    if (!this.linked(name) && !this.running.has(name)) {
      throw new SystemdError('org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not found.`);
    }
    this.overrides.delete(name);
    this.running.add(name);
    this.changed();
  }

  async stop(name: string): Promise<void> {
    assertValidUnitName(name);
    this.record('stop', [name]);
    this.stopRunning(name);
  }

  async states(names: readonly string[]): Promise<Map<string, SystemdUnitState>> {
    this.record('states', names);
    return new Map(names.map((name) => [name, this.stateOf(name)]));
  }

  onChange(listener: () => void): () => void {
    const registered = () => listener();
    this.listeners.push(registered);
    return () => {
      const index = this.listeners.indexOf(registered);
      if (index !== -1) this.listeners.splice(index, 1);
    };
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
  }

  private stateOf(name: string): SystemdUnitState {
    const override = this.overrides.get(name);
    if (override !== undefined) return { ...override };
    const loadState = this.linked(name) ? 'loaded' : UNKNOWN_UNIT_STATE.loadState;
    return this.running.has(name)
      ? { loadState, activeState: 'active', subState: 'running' }
      : { ...UNKNOWN_UNIT_STATE, loadState };
  }

  private linked(name: string): boolean {
    return this.files.has(name) && !this.unlinked.has(name);
  }

  private stopRunning(name: string): void {
    const wasRunning = this.running.delete(name);
    const hadOverride = this.overrides.delete(name);
    if (wasRunning || hadOverride) this.changed();
  }

  private record(method: FakeMethod, args: readonly string[]): void {
    this.calls.push({ method, args: [...args] });
    const index = this.failures.findIndex(
      (failure) =>
        failure.method === method && (failure.name === undefined || args.includes(failure.name)),
    );
    if (index === -1) return;
    const [failure] = this.failures.splice(index, 1);
    throw failure!.error;
  }

  private changed(): void {
    queueMicrotask(() => {
      for (const listener of this.listeners) listener();
    });
  }
}
