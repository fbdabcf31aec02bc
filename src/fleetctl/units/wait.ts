import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { FlagValues } from '../args/flags.js';
import type { CommandContext, Timing } from '../context.js';
import { machineFullLegend } from './machines.js';
import { isGlobal } from './unit-arguments.js';

const LOG_SOURCE = 'wait.ts';

/** Don't wait at all (`--no-block`). */
export const NO_BLOCK = -1;

/**
 * fleet's `getBlockAttempts`: `--no-block` wins; otherwise `--block-attempts=N` for N > 0,
 * and 0 (wait as long as it takes) for anything else.
 */
export function blockAttempts(flags: FlagValues): number {
  if (flags.bool('no-block')) return NO_BLOCK;
  const attempts = flags.number('block-attempts');
  return Math.max(attempts, 0);
}

/** Stops the other waits once one has failed: fleet returns at the first error. */
class Cancelled extends Error {}

/**
 * Polls `check` every poll interval for one attempt window; true as soon as it holds.
 * fleet's attempts are 2 s windows polled every 250 ms.
 */
async function pollWindow(
  check: () => Promise<boolean>,
  timing: Timing,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const deadline = Date.now() + timing.attemptWindowMs;
  for (;;) {
    if (signal?.aborted) throw new Cancelled();
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(timing.pollIntervalMs);
  }
}

/** Polls `check` for up to `maxAttempts` attempt windows; below 1 means no limit. */
export async function pollAttempts(
  check: () => Promise<boolean>,
  maxAttempts: number,
  timing: Timing,
  signal?: AbortSignal,
): Promise<boolean> {
  for (let attempt = 0; maxAttempts < 1 || attempt < maxAttempts; attempt++) {
    if (await pollWindow(check, timing, signal)) return true;
  }
  return false;
}

/**
 * fleet's `assertUnitState`: whether the unit has reached `target` (a global unit has no
 * current state, so its desired state counts), printing `Unit <name> <state>[ on <machine>]`
 * when it has.
 */
async function reportIfReached(
  context: CommandContext,
  name: string,
  target: string,
  signal: AbortSignal | undefined,
  onReached: ((unit: ApiUnit) => void) | undefined,
): Promise<boolean> {
  let unit: ApiUnit | null;
  try {
    unit = await context.client.unit(name);
  } catch (err) {
    context.log.warning(
      LOG_SOURCE,
      `Error retrieving Unit(${name}) from Registry: ${errorMessage(err)}`,
    );
    return false;
  }
  if (unit === null) {
    context.log.warning(LOG_SOURCE, `Unit ${name} not found`);
    return false;
  }
  const state = isGlobal(unit) ? unit.desiredState : unit.currentState;
  if (state !== target) {
    context.log.debug(
      LOG_SOURCE,
      `Waiting for Unit(${name}) state(${state ?? ''}) to be ${target}`,
    );
    return false;
  }
  let message = `Unit ${name} ${unit.currentState ?? ''}`;
  if (unit.machineID !== undefined && unit.machineID !== '') {
    const machine = await context.machines.cached(unit.machineID);
    if (machine !== null) message += ` on ${machineFullLegend(machine, false)}`;
  }
  if (signal?.aborted) throw new Cancelled();
  context.stdout.write(`${message}\n`);
  onReached?.(unit);
  return true;
}

/** fleet's `checkUnitState`: waits for one unit; rejects with fleet's timeout message. */
async function waitForUnitState(
  context: CommandContext,
  name: string,
  target: string,
  maxAttempts: number,
  signal?: AbortSignal,
  onReached?: (unit: ApiUnit) => void,
): Promise<void> {
  const check = () => reportIfReached(context, name, target, signal, onReached);
  if (!(await pollAttempts(check, maxAttempts, context.timing, signal))) {
    throw new Error(`timed out waiting for unit ${name} to report state ${target}`);
  }
}

/**
 * Waits for every unit in parallel and returns every failure, as fleet's lazy creation
 * reports them all. Waits cancelled through `signal` end silently. `onReached` gets the
 * unit as read when it was seen in the target state.
 */
export async function waitForAll(
  context: CommandContext,
  names: readonly string[],
  target: string,
  maxAttempts: number,
  signal?: AbortSignal,
  onReached?: (unit: ApiUnit) => void,
): Promise<Error[]> {
  const results = await Promise.allSettled(
    names.map((name) => waitForUnitState(context, name, target, maxAttempts, signal, onReached)),
  );
  return results.flatMap((result) =>
    result.status === 'rejected' && !(result.reason instanceof Cancelled)
      ? [result.reason as Error]
      : [],
  );
}

/**
 * Runs `waits` in parallel until all succeed or one fails; the first failure cancels the
 * rest and is returned.
 */
async function firstFailure(
  waits: readonly ((signal: AbortSignal) => Promise<void>)[],
): Promise<Error | null> {
  const controller = new AbortController();
  try {
    await Promise.all(
      waits.map((wait) =>
        wait(controller.signal).catch((err: unknown) => {
          controller.abort();
          throw err;
        }),
      ),
    );
    return null;
  } catch (err) {
    return err as Error;
  }
}

/**
 * fleet's `tryWaitForUnitStates`: with `--no-block` only announces `Triggered unit <name>
 * <verb>`; otherwise waits for all units and reports the first failure on stderr.
 */
export async function tryWaitForUnitStates(
  context: CommandContext,
  names: readonly string[],
  verb: string,
  target: string,
  maxAttempts: number,
): Promise<Error | null> {
  if (maxAttempts === NO_BLOCK) {
    for (const name of names) context.stdout.write(`Triggered unit ${name} ${verb}\n`);
    return null;
  }
  const failure = await firstFailure(
    names.map(
      (name) => (signal: AbortSignal) =>
        waitForUnitState(context, name, target, maxAttempts, signal),
    ),
  );
  if (failure !== null) context.stderr.write(`Error waiting for units: ${failure.message}\n`);
  return failure;
}

/** Go's `time.Duration` text for the whole-second and millisecond windows used here. */
function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * After `start`: waits until systemd reports each unit `active` and `loaded`. fleet gives
 * this a single 2 s window whatever `--block-attempts` says; here it honours the attempts
 * like every other wait (see docs/fleetctl.md).
 */
export async function tryWaitForSystemdActive(
  context: CommandContext,
  names: readonly string[],
  maxAttempts: number,
): Promise<Error | null> {
  if (maxAttempts === NO_BLOCK) return null;
  const failure = await firstFailure(
    names.map((name) => async (signal: AbortSignal) => {
      let problem = '';
      const check = async () => {
        const state = await context.client.unitState(name).catch((err: Error) => err);
        if (state instanceof Error) {
          problem = state.message;
          return false;
        }
        if (state === null) {
          problem = `unit ${name} not found`;
          return false;
        }
        if (state.systemdActiveState === 'active' && state.systemdLoadState === 'loaded') {
          return true;
        }
        problem = `systemd reports active state "${state.systemdActiveState ?? ''}" and load state "${state.systemdLoadState ?? ''}"`;
        return false;
      };
      if (!(await pollAttempts(check, maxAttempts, context.timing, signal))) {
        const window = durationText(maxAttempts * context.timing.attemptWindowMs);
        throw new Error(`Failed to find an active unit ${name} within ${window}, err: ${problem}`);
      }
    }),
  );
  if (failure !== null) context.stderr.write(`Error waiting for units: ${failure.message}\n`);
  return failure;
}
