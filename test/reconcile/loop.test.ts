import { describe, expect, it } from 'vitest';
import { ReconcileLoop } from '../../src/reconcile/loop.js';
import { FakeClock, settle } from '../support/fake-clock.js';

const INTERVAL_MS = 2_000;

/** A loop whose passes are counted and, while `hold` is set, wait until released. */
function harness() {
  const clock = new FakeClock();
  const errors: unknown[] = [];
  const state = {
    passes: 0,
    hold: false,
    fail: false,
    release: (): void => undefined,
  };
  const loop = new ReconcileLoop({
    clock,
    intervalMs: INTERVAL_MS,
    onError: (err) => errors.push(err),
    pass: async () => {
      state.passes += 1;
      if (state.hold) await new Promise<void>((resolve) => (state.release = resolve));
      if (state.fail) throw new Error('pass failed');
    },
  });
  return { clock, loop, errors, state };
}

describe('reconcile loop', () => {
  it('runs one pass for triggers that arrive together, and one more for those during a pass', async () => {
    const { loop, state } = harness();
    loop.start();
    loop.trigger();
    loop.trigger();
    await settle();
    expect(state.passes).toBe(1);

    state.hold = true;
    loop.trigger();
    await settle();
    expect(state.passes).toBe(2);
    loop.trigger();
    loop.trigger();
    loop.trigger();
    state.hold = false;
    state.release();
    await settle();
    expect(state.passes).toBe(3);
  });

  it('passes again after the interval with no trigger, and not before', async () => {
    const { clock, loop, state } = harness();
    loop.start();
    await settle();
    expect(state.passes).toBe(1);

    clock.advance(INTERVAL_MS - 1);
    await settle();
    expect(state.passes).toBe(1);
    clock.advance(1);
    await settle();
    expect(state.passes).toBe(2);
  });

  it('restarts the interval after a triggered pass', async () => {
    const { clock, loop, state } = harness();
    loop.start();
    await settle();
    clock.advance(INTERVAL_MS / 2);
    loop.trigger();
    await settle();
    expect(state.passes).toBe(2);

    clock.advance(INTERVAL_MS / 2);
    await settle();
    expect(state.passes).toBe(2);
    expect(clock.pendingTimers).toBe(1);
  });

  it('stop resolves only once the running pass has ended, and leaves no timer', async () => {
    const { clock, loop, state } = harness();
    state.hold = true;
    loop.start();
    await settle();
    expect(state.passes).toBe(1);

    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false);
    state.release();
    await stopping;
    expect(stopped).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does nothing for a trigger or a tick after stop', async () => {
    const { clock, loop, state } = harness();
    loop.start();
    await settle();
    await loop.stop();
    expect(loop.stopped).toBe(true);

    loop.trigger();
    clock.advance(INTERVAL_MS * 3);
    await settle();
    expect(state.passes).toBe(1);
  });

  it('does not start before start', async () => {
    const { loop, state } = harness();
    loop.trigger();
    await settle();
    expect(state.passes).toBe(0);
  });

  it('reports a failing pass and keeps passing on triggers and ticks', async () => {
    const { clock, loop, errors, state } = harness();
    state.fail = true;
    loop.start();
    await settle();
    expect(errors).toEqual([new Error('pass failed')]);

    state.fail = false;
    loop.trigger();
    await settle();
    expect(state.passes).toBe(2);
    clock.advance(INTERVAL_MS);
    await settle();
    expect(state.passes).toBe(3);
    expect(errors).toHaveLength(1);
  });
});
