import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { quotedCommand } from '../remote/run-command.js';
import { isGlobal, unitName } from '../units/unit-arguments.js';

/**
 * `fleetctl status UNIT...`: `systemctl status -l` on each unit's machine, here when that
 * is this machine, else over SSH; the first failing status ends the loop with its exit
 * status. Global units are passed over silently, as in fleet.
 */
export const run: CommandRun = async (context) => {
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
    if (isGlobal(unit)) continue;
    if (unit.currentState === 'inactive') {
      context.stderr.write(`Unit ${unit.name} does not appear to be loaded.\n`);
      return 1;
    }
    // Like systemctl status, a blank line separates units.
    if (index !== 0) context.stdout.write('\n');
    const command = quotedCommand('systemctl', ['status', '-l', unit.name]);
    exit = await context.remote.run(
      unit.machineID ?? '',
      command,
      context.flags.number('ssh-port'),
    );
    if (exit !== 0) break;
  }
  return exit;
};
