import { NOT_SERVED } from '../../client/not-served.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { cordonsOf, findMachine, notSupported, oneMachine } from '../machines/cordons.js';

/** `fleetctl uncordon MACHINE` (ours): lifts the cordon, ending a drain under way. */
export const run: CommandRun = async (context) => {
  const arg = oneMachine(context);
  if (typeof arg === 'number') return arg;
  const cordons = cordonsOf(context);
  if (cordons === null) return 1;
  try {
    const machine = await findMachine(context, cordons, arg);
    if (typeof machine === 'number') return machine;
    const lifted = await cordons.uncordon(machine.id);
    if (lifted === NOT_SERVED) return notSupported(context);
    context.stdout.write(
      lifted ? `Machine ${machine.id} uncordoned\n` : `Machine ${machine.id} was not cordoned\n`,
    );
    return 0;
  } catch (err) {
    context.stderr.write(`Error uncordoning machine ${arg}: ${errorMessage(err)}\n`);
    return 1;
  }
};
