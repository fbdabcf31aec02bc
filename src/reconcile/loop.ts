import { type Clock, SYSTEM_CLOCK, type TimerHandle } from '../clock.js';

export interface ReconcileLoopOptions {
  /** One reconcile pass. */
  pass: () => Promise<void>;
  /** A pass failed; the loop carries on and the next trigger or tick tries again. */
  onError: (err: unknown) => void;
  /** The safety-net tick after each pass; events are what normally trigger passes. */
  intervalMs: number;
  clock?: Clock;
}

/**
 * Runs reconcile passes one at a time: triggers that arrive during a pass make one more pass
 * after it, not one each, and a pass also follows `intervalMs` after the last one, in case an
 * event was missed. The engine and the agent each run one.
 */
export class ReconcileLoop {
  private readonly clock: Clock;
  private timer: TimerHandle | null = null;
  private running: Promise<void> | null = null;
  private pending = false;
  private halted = true;

  constructor(private readonly options: ReconcileLoopOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
  }

  /** False until `start`, and again from `stop` on. */
  get stopped(): boolean {
    return this.halted;
  }

  start(): void {
    this.halted = false;
    this.trigger();
  }

  /** Asks for a pass as soon as the current one (if any) is done; nothing once stopped. */
  trigger(): void {
    if (this.halted) return;
    this.pending = true;
    // Start on the next turn: the events of one watch response then land in one pass.
    this.running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.runPending(),
    );
  }

  /** Starts no pass from now on; resolves once the running pass, if any, has ended. */
  stop(): Promise<void> {
    this.halted = true;
    this.clearTimer();
    return this.running ?? Promise.resolve();
  }

  private async runPending(): Promise<void> {
    while (this.pending && !this.halted) {
      this.pending = false;
      this.clearTimer();
      try {
        await this.options.pass();
      } catch (err) {
        this.options.onError(err);
      }
      if (!this.halted) {
        this.timer = this.clock.setTimeout(() => this.trigger(), this.options.intervalMs);
      }
    }
    this.running = null;
  }

  private clearTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
