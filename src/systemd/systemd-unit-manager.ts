import type { Logger } from 'pino';
import { errorMessage } from '../error-message.js';
import { BusClient } from './bus-client.js';
import { CHANGE_MATCH_RULES, type ChangeSignal, watchChanges } from './change-signals.js';
import { hasInstallSection } from './install-section.js';
import { KeyedLock } from './keyed-lock.js';
import { LinkBatcher } from './link-batcher.js';
import { ReconnectingBus } from './reconnecting-bus.js';
import { ownerMatchRule, SignalSender } from './signal-sender.js';
import { jobIdOf, SYSTEMD_SERVICE, SystemdManagerApi } from './systemd-api.js';
import { isNoSuchUnit } from './systemd-error.js';
import { UnitFilesDirectory } from './unit-files-directory.js';
import type { SystemdUnitState, UnitManager } from './unit-manager.js';
import { assertValidUnitName } from './unit-name-guard.js';
import { WatchedUnits } from './watched-units.js';

export interface SystemdUnitManagerOptions {
  /** `units_directory`: where unit files are written (created 0755). */
  unitsDirectory: string;
  /** `systemd_user`: drive the user's systemd on the session bus. */
  userBus: boolean;
  log: Logger;
  /** Deadline of every D-Bus call (default 10 s). */
  callTimeoutMs?: number;
  /** Told whether the manager has a connection to systemd: false while it reconnects. */
  onConnectionChange?: (connected: boolean) => void;
  /** Bounds of the delay between attempts to reconnect (default 100 ms to 5 s). */
  reconnectBackoff?: { initialMs: number; maxMs: number };
}

const DEFAULT_CALL_TIMEOUT_MS = 10_000;
// A restarted bus daemon answers within a second; systemd joins it a moment later.
const DEFAULT_RECONNECT_BACKOFF = { initialMs: 100, maxMs: 5_000 };
// Well under the system bus daemon's 128 pending replies per connection; systemd handles
// calls one at a time anyway, so more in flight would only queue inside the daemon.
const MAX_CALLS_IN_FLIGHT = 32;
// Jobs replace whatever job the unit has queued, as fleet did.
const JOB_MODE = 'replace';

/**
 * Connects to systemd, subscribes to its change signals and returns the D-Bus UnitManager.
 * Fails (and closes the connection) when systemd does not answer. A connection lost later
 * (the bus daemon restarted) is replaced, with backoff, for the manager's life.
 */
export async function createSystemdUnitManager(
  options: SystemdUnitManagerOptions,
): Promise<UnitManager> {
  const files = new UnitFilesDirectory(options.unitsDirectory, options.log);
  await files.create();
  const bus = new ReconnectingBus({
    connect: () =>
      new BusClient({
        userBus: options.userBus,
        callTimeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
        maxInFlight: MAX_CALLS_IN_FLIGHT,
        log: options.log,
      }),
    log: options.log,
    backoff: options.reconnectBackoff ?? DEFAULT_RECONNECT_BACKOFF,
  });
  const manager = new SystemdUnitManager(bus, files, options.log);
  if (options.onConnectionChange !== undefined) bus.onStatus(options.onConnectionChange);
  await bus.open((connection) => manager.setUp(connection));
  return manager;
}

class SystemdUnitManager implements UnitManager {
  private readonly systemd: SystemdManagerApi;
  // The agent runs tasks of different units in parallel; those of one unit keep their order.
  private readonly unitLocks = new KeyedLock();
  private readonly watched = new WatchedUnits();
  private readonly listeners: (() => void)[] = [];
  // The agent loads a pass's units in parallel: their links go out in a few calls.
  private readonly linker: LinkBatcher;
  private readonly systemdSender = new SignalSender(SYSTEMD_SERVICE);

  constructor(
    private readonly bus: ReconnectingBus,
    private readonly files: UnitFilesDirectory,
    private readonly log: Logger,
  ) {
    this.systemd = new SystemdManagerApi(bus);
    this.linker = new LinkBatcher((paths) => this.systemd.linkUnitFiles(paths, true, true));
    watchChanges(
      bus,
      this.systemdSender,
      (change) => this.onSystemdChange(change),
      (signal) =>
        this.log.warn(
          {
            sender: signal.sender,
            path: signal.path,
            interface: signal.interface,
            member: signal.member,
          },
          `Ignoring a D-Bus signal from ${signal.sender}, which is not systemd`,
        ),
    );
    // Whatever failed while the bus was away is worth another pass now.
    bus.onStatus((connected) => {
      if (connected) this.notify();
    });
  }

  /**
   * Readies a connection, the first and every one after a lost one: the match rules,
   * Subscribe (once per connection), and the watched units' states, since signals sent
   * while there was no connection are lost.
   */
  async setUp(connection: BusClient): Promise<void> {
    // systemd's unique name before its signals: the reply comes ahead of any signal matched
    // by a rule added after it, so none of systemd's is taken for a stranger's.
    await connection.addMatch(ownerMatchRule(SYSTEMD_SERVICE));
    this.systemdSender.ownedBy(await connection.nameOwner(SYSTEMD_SERVICE));
    // Match rules before Subscribe: a change between Subscribe and AddMatch would be lost.
    for (const rule of CHANGE_MATCH_RULES) await connection.addMatch(rule);
    const systemd = new SystemdManagerApi(connection);
    await systemd.subscribe();
    const names = this.watched.names();
    if (names.length === 0) return;
    for (const unit of await systemd.listUnitsByNames(names)) this.watched.record(unit.name, unit);
  }

  listUnitFiles(): Promise<Map<string, string>> {
    return this.files.list();
  }

  async load(name: string, text: string): Promise<void> {
    assertValidUnitName(name);
    return this.unitLocks.run(name, async () => {
      const file = this.files.fileOf(name);
      const install = hasInstallSection(text);
      this.watched.watch(name);
      const size = Buffer.byteLength(text, 'utf8');
      this.log.info({ unit: name, bytes: size }, `Writing systemd unit ${name} (${size}b)`);
      await this.files.write(name, text);
      const linked = await this.linker.link(file);
      this.log.debug({ unit: name, changes: linked }, 'Linked systemd unit');
      if (install) await this.enable(name, file);
    });
  }

  async unload(name: string): Promise<void> {
    assertValidUnitName(name);
    return this.unitLocks.run(name, async () => {
      this.log.info({ unit: name }, `Removing systemd unit ${name}`);
      // A failed stop keeps the file, so the unit can still be stopped through fleet.
      await this.triggerStop(name);
      const problems: string[] = [];
      for (const undo of [
        () => this.systemd.disableUnitFiles([name], true),
        () => this.systemd.resetFailedUnit(name),
      ]) {
        try {
          await undo();
        } catch (err) {
          // `Unit x not loaded.`, `Unit file x does not exist.`: already undone.
          if (!isNoSuchUnit(err)) problems.push(errorMessage(err));
        }
      }
      await this.files.remove(name);
      this.watched.forget(name);
      if (problems.length > 0) throw new Error(problems.join('; '));
    });
  }

  async reload(): Promise<void> {
    this.log.info('Instructing systemd to reload units');
    await this.systemd.reload();
  }

  async start(name: string): Promise<void> {
    assertValidUnitName(name);
    return this.unitLocks.run(name, async () => {
      const job = await this.systemd.startUnit(name, JOB_MODE);
      this.log.info({ unit: name }, `Triggered systemd unit ${name} start: job=${jobIdOf(job)}`);
    });
  }

  async stop(name: string): Promise<void> {
    assertValidUnitName(name);
    return this.unitLocks.run(name, () => this.triggerStop(name));
  }

  async states(names: readonly string[]): Promise<Map<string, SystemdUnitState>> {
    const states = new Map<string, SystemdUnitState>();
    if (names.length === 0) return states;
    for (const unit of await this.systemd.listUnitsByNames([...names])) {
      this.watched.record(unit.name, unit);
      states.set(unit.name, {
        loadState: unit.loadState,
        activeState: unit.activeState,
        subState: unit.subState,
      });
    }
    return states;
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
    this.bus.close();
  }

  /** Stop for unload: a unit systemd has not loaded is already stopped. */
  private async triggerStop(name: string): Promise<void> {
    let job: string;
    try {
      job = await this.systemd.stopUnit(name, JOB_MODE);
    } catch (err) {
      if (isNoSuchUnit(err)) return;
      throw err;
    }
    this.log.info({ unit: name }, `Triggered systemd unit ${name} stop: job=${jobIdOf(job)}`);
  }

  private async enable(name: string, file: string): Promise<void> {
    this.log.info({ unit: name }, `Enabling systemd unit ${name}`);
    try {
      const { changes } = await this.systemd.enableUnitFiles([file], true, true);
      this.log.debug({ unit: name, changes }, 'Enabled systemd unit');
    } catch (err) {
      // Leave neither the file nor a dangling link behind.
      await this.systemd.disableUnitFiles([name], true).catch((undoErr: unknown) => {
        this.log.warn({ unit: name, err: undoErr }, 'Failed to unlink systemd unit');
      });
      await this.files.remove(name);
      throw new Error(`Failed to enable systemd unit ${name}: ${errorMessage(err)}`);
    }
  }

  private onSystemdChange(change: ChangeSignal): void {
    const news =
      change.kind === 'reloaded' ||
      this.watched.apply(change.path, change.changed, change.invalidated);
    if (news) this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err }, 'Systemd change listener failed');
      }
    }
  }
}
