import type { ApiUnit } from '../../api/schema.js';
import type { CommandContext } from '../context.js';
import { registryUnitsNamed } from '../units/registry-units.js';
import { isGlobal } from '../units/unit-arguments.js';
import { blockAttempts, tryWaitForUnitStates } from '../units/wait.js';

const LOG_SOURCE = 'deactivate.ts';

/** What `stop` and `unload` do, and how they say it. */
export interface Deactivation {
  target: 'loaded' | 'inactive';
  verb: 'stop' | 'unload';
  /** `stopped` or `unloaded`, as in `Successfully stopped units [...]`. */
  done: string;
  /** Decides per non-global unit by its current state: change it, skip it, or fail. */
  decide(unit: ApiUnit): 'change' | 'skip' | 'fail';
}

/**
 * The shared part of `stop` and `unload`: only units already in the registry count; each
 * gets the target desired state (errors are ignored, as in fleet), global ones are only
 * announced, and the others are waited on. fleet lists the waited-on units at the end,
 * even when there are none.
 */
export async function deactivate(context: CommandContext, how: Deactivation): Promise<number> {
  const selection = await registryUnitsNamed(context, { allowNone: false });
  if ('exitCode' in selection) return selection.exitCode;
  const { units } = selection;
  const waiting: string[] = [];
  for (const unit of units) {
    const global = isGlobal(unit);
    if (!global) {
      const decision = how.decide(unit);
      if (decision === 'fail') {
        context.stderr.write(
          `Unable to ${how.verb} unit ${unit.name} in state ${unit.currentState ?? ''}\n`,
        );
        return 1;
      }
      if (decision === 'skip') {
        context.log.debug(
          LOG_SOURCE,
          `Unit(${unit.name}) already ${unit.currentState ?? ''}, skipping.`,
        );
        continue;
      }
    }
    context.log.debug(LOG_SOURCE, `Setting target state of Unit(${unit.name}) to ${how.target}`);
    await context.client.setUnitTargetState(unit.name, how.target).catch(() => {});
    if (global) {
      context.stdout.write(`Triggered global unit ${unit.name} ${how.verb}\n`);
    } else {
      waiting.push(unit.name);
    }
  }
  const attempts = blockAttempts(context.flags);
  const failure = await tryWaitForUnitStates(context, waiting, how.verb, how.target, attempts);
  const listed = `[${waiting.join(' ')}]`;
  if (failure !== null) {
    context.stderr.write(`Failed to ${how.verb} units ${listed}. err: ${failure.message}\n`);
    return 1;
  }
  context.stderr.write(`Successfully ${how.done} units ${listed}.\n`);
  return 0;
}
