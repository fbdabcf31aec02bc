import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import type { FleetConfig } from '../config/index.js';
import { deriveTimings, type FleetTimings } from '../config/timings.js';
import { Engine } from '../engine/engine.js';
import type { EngineMetrics } from '../engine/metrics.js';
import { errorMessage } from '../error-message.js';
import type { PresenceLease, RegistrySeam } from '../registry/ports.js';
import type { MachineRecord } from '../registry/records.js';
import type { UnitManager } from '../systemd/unit-manager.js';
import { FLEET_VERSION } from '../version.js';
import { bestEffort } from './best-effort.js';

export interface FleetServerOptions {
  config: FleetConfig;
  registry: RegistrySeam;
  manager: UnitManager;
  log: Logger;
  machineID: string;
  sessionToken: string;
  /** The public IP to publish when `public_ip` is not configured; re-read every refresh. */
  detectPublicIP: () => string;
  /**
   * The peer listener's address, published in the machine's record for other fleetds;
   * absent when this fleetd has none. Fixed at start, as the listener is.
   */
  peerAddress?: string;
  engineMetrics?: EngineMetrics;
}

/** What one monitor check learned: etcd holds the lease, does not, or did not answer. */
type Heartbeat = 'alive' | 'gone' | 'unanswered';

interface Components {
  session: PresenceLease;
  engine: Engine | null;
}

/**
 * One fleetd: registers the machine, then runs the engine, the agent and the periodic
 * machine-state refresh, and restarts them (leaving units alone) when the machine's
 * presence cannot be confirmed. The agent and its knowledge of local units outlive restarts.
 */
export class FleetServer {
  private readonly timings: FleetTimings;
  private components: Components | null = null;
  private agent: Agent | null = null;
  private stopping = false;
  private lifecycle: Promise<void> = Promise.resolve();
  private monitorTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private wakeBackoff: (() => void) | null = null;

  constructor(private readonly options: FleetServerOptions) {
    this.timings = deriveTimings(
      options.config.agentTtlMs,
      options.config.engineReconcileIntervalMs,
    );
  }

  /** True once the machine is registered: the API answers 503 until then. */
  get available(): boolean {
    return this.components !== null;
  }

  get machineID(): string {
    return this.options.machineID;
  }

  /** Registers (retrying with backoff) and starts the components. */
  start(): Promise<void> {
    this.lifecycle = this.lifecycle.then(() => this.runUntilStarted('Register'));
    return this.lifecycle;
  }

  /**
   * Graceful stop (SIGTERM): stops and unloads this machine's units, gives up leadership
   * and withdraws presence and states at once.
   */
  shutdown(): Promise<void> {
    return this.halt(true);
  }

  /** Stops the components but leaves units running (tests of crashes). */
  stop(): Promise<void> {
    return this.halt(false);
  }

  /**
   * Stops for a SIGHUP reload: units keep running, and a leader resigns, so that the next
   * configuration's engine (or another machine's) takes over at once instead of after a TTL.
   */
  retire(): Promise<void> {
    return this.halt(false, true);
  }

  /** State for SIGUSR1, in the shape fleet dumped. */
  dumpState(): unknown {
    const targetStates = Object.fromEntries(
      [...(this.agent?.localUnits() ?? new Map())].map(([name, unit]) => [name, unit.state]),
    );
    return { Agent: { Cache: { TargetStates: targetStates } } };
  }

  private halt(purge: boolean, resign = purge): Promise<void> {
    this.stopping = true;
    this.wakeBackoff?.();
    // A start in progress waits for the agent's and the engine's watches to be ready, without
    // bound while etcd does not deliver: stopping both now ends those waits, so the stop (and
    // the purge, within systemd's stop timeout) does not queue behind them.
    void this.agent?.stop().catch(() => undefined);
    void this.components?.engine?.stop({ resign: false }).catch(() => undefined);
    this.lifecycle = this.lifecycle.then(async () => {
      this.clearTimers();
      const components = this.components;
      this.components = null;
      const { log } = this.options;
      if (components !== null) {
        await bestEffort(log, 'stopping the engine', () => components.engine?.stop({ resign }));
      }
      if (purge) await bestEffort(log, 'unloading units', () => this.agent?.purge());
      else await this.agent?.stop();
      if (components === null) return;
      if (purge) await bestEffort(log, 'withdrawing presence', () => components.session.close());
      else components.session.abandon();
    });
    return this.lifecycle;
  }

  /** `onRegistered` runs once a new lease holds the machine's key. */
  private async runUntilStarted(
    mode: 'Register' | 'Beat',
    onRegistered: () => void = () => undefined,
  ): Promise<void> {
    const { log } = this.options;
    let delayMs = this.timings.restartBackoffInitialMs;
    for (;;) {
      if (this.stopping) return;
      try {
        const session = await this.options.registry.presence.open(
          this.machineRecord(),
          this.options.config.agentTtlMs,
        );
        log.debug(`hrt.${mode}() success`);
        onRegistered();
        try {
          await this.startComponents(session);
        } catch (err) {
          await this.discard(session);
          throw err;
        }
        return;
      } catch (err) {
        if (this.stopping) return;
        log.error(
          `Server register machine failed: ${errorMessage(err)}, retrying in ${delayMs / 1000} sec.`,
        );
        await this.sleep(delayMs);
        delayMs = Math.min(delayMs * 2, this.timings.restartBackoffMaxMs);
      }
    }
  }

  private async startComponents(session: PresenceLease): Promise<void> {
    const { config, registry, manager, log, machineID } = this.options;
    const requestedSeconds = Math.ceil(config.agentTtlMs / 1000);
    if (session.grantedTtlSeconds !== requestedSeconds) {
      log.warn(
        `etcd granted a machine lease of ${session.grantedTtlSeconds}s instead of agent_ttl ${requestedSeconds}s; timers follow the granted TTL`,
      );
    }
    const grantedTtlMs = session.grantedTtlSeconds * 1000;
    log.info('Starting server components');

    const watches = !config.disableWatches;
    const agentFeed = registry.agentSchedule(machineID, () => this.agent?.trigger());
    const publisher = registry.publications(session);
    if (this.agent === null) {
      this.agent = new Agent({
        machineID,
        configuredMetadata: config.metadata,
        feed: agentFeed,
        manager,
        bodies: registry.bodies,
        publisher,
        log,
        reconcileIntervalMs: this.timings.agentReconcileIntervalMs,
        watches,
      });
    } else {
      this.agent.replaceConnections(agentFeed, publisher);
    }

    let engine: Engine | null = null;
    if (config.disableEngine) {
      log.info('Not starting engine; disable-engine is set');
    } else {
      engine = new Engine({
        machineID,
        feed: registry.engineView(() => engine?.trigger()),
        leadership: registry.leadership(session),
        writer: registry.scheduleWriter,
        bodies: registry.bodies,
        drains: { states: registry.states, progress: registry.drainProgress },
        rollouts: registry.rollouts,
        log,
        reconcileIntervalMs: config.engineReconcileIntervalMs,
        machineGraceMs: grantedTtlMs,
        watches,
        ...(this.options.engineMetrics !== undefined && { metrics: this.options.engineMetrics }),
      });
    }
    this.components = { session, engine };
    session.onLost((err) => this.restart(session, `lease lost: ${err.message}`));
    await this.agent.start();
    await engine?.start();
    this.scheduleMonitor(session);
    this.scheduleRefresh(session);
  }

  /**
   * Undoes a start that failed part-way (the agent could not read systemd, say): nothing may
   * keep running on its session, and its lease is revoked, else its keepalive would hold it
   * for ever and every retry would add one.
   */
  private async discard(session: PresenceLease): Promise<void> {
    const components = this.components;
    if (components?.session === session) this.components = null;
    this.clearTimers();
    const { log } = this.options;
    await bestEffort(log, 'stopping the engine', () => components?.engine?.stop({ resign: false }));
    await bestEffort(log, 'stopping the agent', () => this.agent?.stop());
    // Revoking stops the keepalive first, so a lease etcd could not be told about expires.
    await bestEffort(log, 'revoking the lease of a failed start', () => session.close());
  }

  /**
   * The original's monitor: every check retries a failed heartbeat until the check time is
   * up, so one slow or failed answer does not restart every component. Unlike the original,
   * an unanswered heartbeat restarts them only once etcd has also answered no keepalive for
   * a whole TTL: unary calls can time out while the keepalive stream still renews the lease,
   * and giving up a live lease would let the machine's presence lapse and its units move.
   * A lease etcd reports gone restarts them at once.
   */
  private scheduleMonitor(session: PresenceLease): void {
    const { monitorCheckTimeoutMs, monitorRetryIntervalMs } = this.timings;
    const ttlMs = session.grantedTtlSeconds * 1000;
    this.monitorTimer = setInterval(() => {
      const deadline = performance.now() + monitorCheckTimeoutMs;
      const check = this.checkPresence(session, deadline, monitorRetryIntervalMs);
      const timeout = new Promise<Heartbeat>((resolve) =>
        setTimeout(() => resolve('unanswered'), monitorCheckTimeoutMs).unref(),
      );
      void Promise.race([check, timeout]).then((heartbeat) => {
        if (heartbeat === 'alive') return;
        if (heartbeat === 'gone') {
          this.restart(session, 'lease lost: etcd no longer holds it');
        } else if (!session.renewedWithin(ttlMs)) {
          this.restart(session, 'Monitor timed out before successful heartbeat');
        } else if (this.components?.session === session) {
          this.options.log.warn(
            { leaseID: session.leaseID },
            'Heartbeat timed out, but etcd still renews the lease; keeping it',
          );
        }
      });
    }, this.timings.monitorIntervalMs);
  }

  private async checkPresence(
    session: PresenceLease,
    deadline: number,
    retryMs: number,
  ): Promise<Heartbeat> {
    for (;;) {
      try {
        return (await session.isAlive()) ? 'alive' : 'gone';
      } catch {
        if (performance.now() + retryMs >= deadline) return 'unanswered';
        await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
      }
    }
  }

  /** Re-detects the public IP (when not configured) and republishes presence if it changed. */
  private scheduleRefresh(session: PresenceLease): void {
    let published = this.machineRecord();
    this.refreshTimer = setInterval(() => {
      const current = this.machineRecord();
      if (current.publicIP === published.publicIP) return;
      published = current;
      session
        .update(current)
        .catch((err: unknown) => this.options.log.warn({ err }, 'Unable to refresh machine state'));
    }, this.timings.machineStateRefreshIntervalMs);
  }

  /** Restarts the components that run on `session`, unless they were already replaced. */
  private restart(session: PresenceLease, reason: string): void {
    if (this.stopping || this.components?.session !== session) return;
    const { log } = this.options;
    log.error(`Server monitor triggered: ${reason}`);
    this.lifecycle = this.lifecycle.then(async () => {
      const components = this.components;
      if (components?.session !== session || this.stopping) return;
      this.components = null;
      this.clearTimers();
      await components.engine?.stop({ resign: false });
      await this.agent?.stop();
      log.info('Restarting server');
      // Make before break: while etcd still renews the old lease, it keeps the machine present
      // until a new lease holds the machine's key, however long registering takes.
      try {
        await this.runUntilStarted('Beat', () => session.abandon());
      } finally {
        session.abandon();
      }
    });
  }

  private machineRecord(): MachineRecord {
    const { config, machineID, sessionToken } = this.options;
    return {
      id: machineID,
      publicIP: config.publicIP !== '' ? config.publicIP : this.options.detectPublicIP(),
      metadata: config.metadata,
      capabilities: { disableEngine: config.disableEngine },
      version: FLEET_VERSION,
      sessionToken,
      ...(this.options.peerAddress !== undefined && { peerAddress: this.options.peerAddress }),
    };
  }

  private clearTimers(): void {
    if (this.monitorTimer !== null) clearInterval(this.monitorTimer);
    if (this.refreshTimer !== null) clearInterval(this.refreshTimer);
    this.monitorTimer = null;
    this.refreshTimer = null;
  }

  /** A backoff sleep that a shutdown cuts short, so stopping never waits out a backoff. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
