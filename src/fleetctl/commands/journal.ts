import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { commandLine } from '../remote/run-command.js';
import { isGlobal, unitName } from '../units/unit-arguments.js';

/** `fleetctl journal UNIT`: the unit's `journalctl` output from the machine it runs on. */
export const run: CommandRun = async (context) => {
  if (context.args.length !== 1) {
    context.stderr.write('One unit file must be provided.\n');
    return 1;
  }
  const name = unitName(context.args[0]!);
  let unit: ApiUnit | null;
  try {
    unit = await context.client.unit(name);
  } catch (err) {
    context.stderr.write(`Error retrieving unit ${name}: ${errorMessage(err)}\n`);
    return 1;
  }
  if (unit === null) {
    context.stderr.write(`Unit ${name} does not exist.\n`);
    return 1;
  }
  if (isGlobal(unit)) {
    context.stderr.write(`Unable to retrieve journal of global unit ${name}.\n`);
    return 1;
  }
  if (unit.currentState === 'inactive') {
    context.stderr.write(`Unit ${name} does not appear to be running.\n`);
    return 1;
  }
  const { flags } = context;
  let line = `journalctl --unit ${name} --no-pager -n ${flags.number('lines')} --output ${flags.string('output')}`;
  if (flags.bool('sudo')) line = `sudo ${line}`;
  if (flags.bool('follow')) line += ' -f';
  return context.remote.run(unit.machineID ?? '', commandLine(line), flags.number('ssh-port'));
};
