import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { unitFileOf, unitName } from '../units/unit-arguments.js';

/** `fleetctl cat UNIT`: the unit's canonical text, exactly, without a newline added. */
export const run: CommandRun = async (context) => {
  if (context.args.length !== 1) {
    context.stderr.write('One unit file must be provided\n');
    return 1;
  }
  const name = unitName(context.args[0]!);
  let unit: ApiUnit | null;
  try {
    unit = await context.client.unit(name);
  } catch (err) {
    context.stderr.write(`Error retrieving Unit ${name}: ${errorMessage(err)}\n`);
    return 1;
  }
  if (unit === null) {
    context.stderr.write(`Unit ${name} not found\n`);
    return 1;
  }
  context.stdout.write(unitFileOf(unit).serialized);
  return 0;
};
