import type { ApiUnit } from '../../api/schema.js';
import type { CommandContext } from '../context.js';
import { RecordedOutput } from '../units/ordered-jobs.js';
import { registryUnitsNamed } from '../units/registry-units.js';
import { isGlobal } from '../units/unit-arguments.js';
import { type UnitWrite, writeUnits } from '../units/unit-writes.js';
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
 * gets the target desired state (errors are ignored, as in fleet; several are set together
 * through the batch path), global ones are only announced, and the others are waited on.
 * fleet lists the waited-on units at the end, even when there are none.
 */
export async function deactivate(context: CommandContext, how: Deactivation): Promise<number> {
  const selection = await registryUnitsNamed(context, { allowNone: false });
  if ('exitCode' in selection) return selection.exitCode;
  const { units } = selection;
  const waiting: string[] = [];
  // Printed once the writes are made, in the order fleet printed while making them.
  const output = new RecordedOutput();
  const log = context.log.writingTo(output.stderr);
  const writes: UnitWrite[] = [];
  let failed = false;
  for (const unit of units) {
    const global = isGlobal(unit);
    if (!global) {
      const decision = how.decide(unit);
      if (decision === 'fail') {
        output.stderr.write(
          `Unable to ${how.verb} unit ${unit.name} in state ${unit.currentState ?? ''}\n`,
        );
        failed = true;
        break;
      }
      if (decision === 'skip') {
        log.debug(LOG_SOURCE, `Unit(${unit.name}) already ${unit.currentState ?? ''}, skipping.`);
        continue;
      }
    }
    log.debug(LOG_SOURCE, `Setting target state of Unit(${unit.name}) to ${how.target}`);
    writes.push({ kind: 'target', name: unit.name, desiredState: how.target });
    if (global) {
      output.stdout.write(`Triggered global unit ${unit.name} ${how.verb}\n`);
    } else {
      waiting.push(unit.name);
    }
  }
  // fleet ignores these writes' errors.
  await writeUnits(context.client, writes, { stopAtFailure: false });
  output.replay(context.stdout, context.stderr);
  if (failed) return 1;
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
