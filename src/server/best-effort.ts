import type { Logger } from 'pino';

/**
 * Runs one step of a shutdown, logging its failure instead of throwing: the steps after it
 * (revoking the lease, closing connections) still matter when this one could not finish,
 * for example when etcd is unreachable.
 */
export async function bestEffort(
  log: Logger,
  step: string,
  run: () => Promise<unknown> | unknown,
): Promise<void> {
  try {
    await run();
  } catch (err) {
    log.error({ err }, `Graceful shutdown incomplete: ${step} failed`);
  }
}
