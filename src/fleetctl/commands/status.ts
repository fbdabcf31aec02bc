import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { quotedCommand } from '../remote/run-command.js';
import { chooseMachine, targetMachine } from '../units/machine-choice.js';
import { isGlobal, unitName } from '../units/unit-arguments.js';

/**
 * `fleetctl status UNIT...`: `systemctl status -l` on each unit's machine, here when that
 * is this machine, else over SSH or through fleet (run-command.ts); the first failing
 * status ends the loop with its exit status. Global units are passed over silently, as in
 * fleet, unless `--machine` (ours) names the machine to ask.
 */
export const run: CommandRun = async (context) => {
  let chosen: string | null = null;
  if (context.flags.string('machine') !== '') {
    try {
      chosen = await chooseMachine(context.client, context.flags.string('machine'));
    } catch (err) {
      context.stderr.write(`Unable to proceed: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  let exit = 0;
  for (const [index, arg] of context.args.entries()) {
    const name = unitName(arg);
    let unit: ApiUnit | null;
    try {
      unit = await context.client.unit(name);
    } catch (err) {
      context.stderr.write(`Error retrieving unit: ${errorMessage(err)}\n`);
      return 1;
    }
    if (unit === null) {
      context.stderr.write(`Unit ${name} does not exist.\n`);
      return 1;
    }
    const target = targetMachine(unit, isGlobal(unit), chosen);
    if (target === null) continue;
    if (unit.currentState === 'inactive') {
      context.stderr.write(`Unit ${unit.name} does not appear to be loaded.\n`);
      return 1;
    }
    if ('error' in target) {
      context.stderr.write(`${target.error}\n`);
      return 1;
    }
    // Like systemctl status, a blank line separates units.
    if (index !== 0) context.stdout.write('\n');
    const command = {
      ...quotedCommand('systemctl', ['status', '-l', unit.name]),
      fleet: {
        kind: 'status' as const,
        unit: unit.name,
        ...(chosen !== null && { machine: chosen }),
      },
    };
    exit = await context.remote.run(target.machineID, command, context.flags.number('ssh-port'));
    if (exit !== 0) break;
  }
  return exit;
};
