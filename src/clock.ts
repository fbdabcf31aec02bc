/** A pending timer, as the clock that set it hands it back. */
export type TimerHandle = object;

/**
 * Time as the reconcilers see it: the process's own in fleetd, one a test moves by hand so
 * intervals and grace periods pass in no time and in a known order.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(timer: TimerHandle): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};
