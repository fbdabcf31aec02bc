import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { lazyCreateUnits } from '../units/lazy-create.js';

/** `fleetctl submit UNIT...`: creates the units that are missing; desired state `inactive`. */
export const run: CommandRun = async (context) => {
  if (context.args.length === 0) {
    context.stderr.write('No units given\n');
    return 0;
  }
  try {
    await lazyCreateUnits(context, context.args);
  } catch (err) {
    context.stderr.write(`Error creating units: ${errorMessage(err)}\n`);
    return 1;
  }
  return 0;
};
