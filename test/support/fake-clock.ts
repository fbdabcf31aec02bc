import type { Clock, TimerHandle } from '../../src/clock.js';

interface Timer {
  at: number;
  callback: () => void;
}

/** A clock that moves only when a test advances it, firing the timers it passes, in order. */
export class FakeClock implements Clock {
  private time: number;
  private readonly timers = new Set<Timer>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer = { at: this.time + Math.max(0, ms), callback };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(timer: TimerHandle): void {
    this.timers.delete(timer as Timer);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing each timer that falls due, earliest first. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const next = [...this.timers]
        .filter((timer) => timer.at <= until)
        .sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.timers.delete(next);
      this.time = next.at;
      next.callback();
    }
    this.time = until;
  }
}

/** Lets every callback and promise job queued so far run (a pass starts on the next turn). */
export async function settle(turns = 5): Promise<void> {
  for (let turn = 0; turn < turns; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
