import { errorMessage } from '../../error-message.js';
import type { CommandContext } from '../context.js';
import { lazyCreateUnits } from '../units/lazy-create.js';
import { setTargetStates } from '../units/target-state.js';
import { isGlobal, unitName } from '../units/unit-arguments.js';
import { blockAttempts, tryWaitForUnitStates } from '../units/wait.js';

/** What `load` and `start` do, and how they say it. */
export interface Activation {
  target: 'loaded' | 'launched';
  /** `load` or `start`, as in `Triggered unit x.service start`. */
  verb: string;
  /** `loading` or `starting`, as in `Error starting units: ...`. */
  gerund: string;
}

/**
 * The shared part of `load` and `start`: lazy creation, then the desired state of every
 * argument, then the wait for non-global units. Global units are announced and not waited
 * on. Resolves with the units waited on, or with the exit status of a failure.
 */
export async function activate(
  context: CommandContext,
  activation: Activation,
): Promise<{ waited: string[] } | { exit: number }> {
  if (context.args.length === 0) {
    context.stderr.write('No units given\n');
    return { exit: 0 };
  }
  let lastRead: Awaited<ReturnType<typeof lazyCreateUnits>>;
  try {
    lastRead = await lazyCreateUnits(context, context.args);
  } catch (err) {
    context.stderr.write(`Error creating units: ${errorMessage(err)}\n`);
    return { exit: 1 };
  }
  let triggered: Awaited<ReturnType<typeof setTargetStates>>;
  try {
    triggered = await setTargetStates(
      context,
      context.args.map(unitName),
      activation.target,
      lastRead,
    );
  } catch (err) {
    context.stderr.write(`Error ${activation.gerund} units: ${errorMessage(err)}\n`);
    return { exit: 1 };
  }
  const waited: string[] = [];
  for (const unit of triggered) {
    if (isGlobal(unit)) {
      context.stdout.write(`Triggered global unit ${unit.name} ${activation.verb}\n`);
    } else {
      waited.push(unit.name);
    }
  }
  const attempts = blockAttempts(context.flags);
  const failure = await tryWaitForUnitStates(
    context,
    waited,
    activation.verb,
    activation.target,
    attempts,
  );
  if (failure !== null) {
    context.stderr.write(`Error waiting for unit states, exit status: ${failure.message}\n`);
    return { exit: 1 };
  }
  return { waited };
}
