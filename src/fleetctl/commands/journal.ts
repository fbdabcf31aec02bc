import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { commandLine } from '../remote/run-command.js';
import { chooseMachine, targetMachine } from '../units/machine-choice.js';
import { isGlobal, unitName } from '../units/unit-arguments.js';

/**
 * `fleetctl journal UNIT`: the unit's `journalctl` output from the machine it runs on, or
 * for a global unit from the machine `--machine` (ours) names.
 */
export const run: CommandRun = async (context) => {
  if (context.args.length !== 1) {
    context.stderr.write('One unit file must be provided.\n');
    return 1;
  }
  const { flags } = context;
  let chosen: string | null = null;
  if (flags.string('machine') !== '') {
    try {
      chosen = await chooseMachine(context.client, flags.string('machine'));
    } catch (err) {
      context.stderr.write(`Unable to proceed: ${errorMessage(err)}\n`);
      return 1;
    }
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
  const target = targetMachine(unit, isGlobal(unit), chosen);
  if (target === null) {
    context.stderr.write(`Unable to retrieve journal of global unit ${name}.\n`);
    return 1;
  }
  if (unit.currentState === 'inactive') {
    context.stderr.write(`Unit ${name} does not appear to be running.\n`);
    return 1;
  }
  if ('error' in target) {
    context.stderr.write(`${target.error}\n`);
    return 1;
  }
  const lines = flags.number('lines');
  const output = flags.string('output');
  const follow = flags.bool('follow');
  let line = `journalctl --unit ${name} --no-pager -n ${lines} --output ${output}`;
  if (flags.bool('sudo')) line = `sudo ${line}`;
  if (follow) line += ' -f';
  // fleetd runs journalctl as root: `--sudo` has no meaning there.
  const command = {
    ...commandLine(line),
    fleet: {
      kind: 'journal' as const,
      unit: name,
      lines,
      output,
      follow,
      ...(chosen !== null && { machine: chosen }),
    },
  };
  return context.remote.run(target.machineID, command, flags.number('ssh-port'));
};
