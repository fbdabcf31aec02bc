import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/semaphore.js';
import { KeyedLock } from '../../src/systemd/keyed-lock.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore', () => {
  it('runs at most its limit at once and starts waiters in arrival order', async () => {
    const slots = new Semaphore(2);
    const gates = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    const done = gates.map((gate, i) =>
      slots.run(async () => {
        started.push(i);
        running += 1;
        peak = Math.max(peak, running);
        await gate.promise;
        running -= 1;
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    for (const gate of gates) gate.resolve();
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
  });

  it('frees the slot of a task that failed', async () => {
    const slots = new Semaphore(1);
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.run(async () => 'next')).toBe('next');
  });
});

describe('KeyedLock', () => {
  it('runs tasks of one key in call order, even after a failure', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const gate = deferred();
    const first = lock.run('a', async () => {
      await gate.promise;
      order.push('first');
      throw new Error('first failed');
    });
    const second = lock.run('a', async () => {
      order.push('second');
    });
    await tick();
    expect(order).toEqual([]);
    gate.resolve();
    await expect(first).rejects.toThrow('first failed');
    await second;
    expect(order).toEqual(['first', 'second']);
  });

  it('runs tasks of different keys concurrently', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    const order: string[] = [];
    const a = lock.run('a', async () => {
      await gate.promise;
      order.push('a');
    });
    await lock.run('b', async () => {
      order.push('b');
    });
    gate.resolve();
    await a;
    expect(order).toEqual(['b', 'a']);
  });
});
