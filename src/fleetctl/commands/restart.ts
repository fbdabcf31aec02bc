import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { CommandContext, CommandRun } from '../context.js';
import { quotedCommand } from '../remote/run-command.js';
import { lazyCreateUnits } from '../units/lazy-create.js';
import { registryUnitsNamed } from '../units/registry-units.js';
import { isGlobal } from '../units/unit-arguments.js';
import { blockAttempts, tryWaitForUnitStates } from '../units/wait.js';

const LOG_SOURCE = 'restart.ts';

/**
 * `fleetctl restart UNIT...`: a loaded unit is started; a launched one is stopped (back to
 * `loaded`) and started again; an inactive one is left alone with a message. Units are
 * the registry's as they were before lazily creating the arguments. Global units are
 * restarted with `systemctl restart` on every machine reporting them.
 */
export const run: CommandRun = async (context) => {
  const selection = await registryUnitsNamed(context, { allowNone: true });
  if ('exitCode' in selection) return selection.exitCode;
  const { units } = selection;
  try {
    await lazyCreateUnits(context, context.args);
  } catch (err) {
    context.stderr.write(`Error creating units: ${errorMessage(err)}\n`);
    return 1;
  }

  const attempts = blockAttempts(context.flags);
  const globalUnits: ApiUnit[] = [];
  for (const unit of units) {
    if (isGlobal(unit)) {
      globalUnits.push(unit);
      continue;
    }
    if (unit.currentState === 'inactive') {
      context.stderr.write(`Unable to restart unit ${unit.name} in state inactive\n`);
      continue;
    }
    if (unit.currentState === 'loaded') {
      context.log.info(LOG_SOURCE, `Unit(${unit.name}) already loaded, starting.`);
      if (!(await setStateAndWait(context, unit.name, 'launched', attempts))) return 1;
      continue;
    }
    if (!(await setStateAndWait(context, unit.name, 'loaded', attempts))) return 1;
    if (!(await setStateAndWait(context, unit.name, 'launched', attempts))) return 1;
    context.log.info(LOG_SOURCE, `Unit(${unit.name}) was restarted.`);
  }
  return restartGlobalUnits(context, globalUnits);
};

/** fleet's `setUnitStateAndWait`, waiting for the state it set (fleet waited for `launched`). */
async function setStateAndWait(
  context: CommandContext,
  name: string,
  state: 'loaded' | 'launched',
  attempts: number,
): Promise<boolean> {
  try {
    await context.client.setUnitTargetState(name, state);
  } catch (err) {
    context.stderr.write(`Error setting target state for unit ${name}: ${errorMessage(err)}\n`);
    return false;
  }
  const failure = await tryWaitForUnitStates(context, [name], 'restart', state, attempts);
  if (failure !== null) {
    context.stderr.write(`Error waiting for unit states, exit status: ${failure.message}\n`);
    return false;
  }
  return true;
}

/** A global unit runs wherever it reports a state; each of those machines restarts it. */
async function restartGlobalUnits(context: CommandContext, units: readonly ApiUnit[]) {
  if (units.length === 0) return 0;
  const names = new Set(units.map((unit) => unit.name));
  const sshPort = context.flags.number('ssh-port') || 22;
  let exit = 0;
  for (const state of await context.client.unitStates()) {
    if (!names.has(state.name) || state.machineID === undefined) continue;
    const command = quotedCommand('systemctl', ['restart', state.name]);
    const status = await context.remote.run(state.machineID, command, sshPort);
    if (status !== 0) {
      context.stderr.write(
        `Error restarting global units [${[...names].join(' ')}] err:exit status ${status}\n`,
      );
      exit = status;
    }
  }
  return exit;
}
