import { Semaphore } from '../../semaphore.js';
import type { CommandContext } from '../context.js';

/**
 * The context with its client's `unit` reads limited to `limit` at once, the others queued
 * before they are sent (so a queued read's request timeout has not started). The waits of
 * units written in one batch all begin together; unthrottled, a thousand reads at once would
 * time out against a busy API, where one by one they came as each unit was written.
 */
export function withThrottledUnitReads(context: CommandContext, limit: number): CommandContext {
  const reads = new Semaphore(limit);
  const base = context.client;
  const client = Object.assign(Object.create(base) as typeof base, {
    unit: (name: string) => reads.run(() => base.unit(name)),
  });
  return Object.assign(Object.create(context) as CommandContext, { client });
}
