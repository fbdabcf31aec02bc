import { NOT_SERVED } from '../../client/not-served.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { cordonsOf, findMachine, notSupported, oneMachine } from '../machines/cordons.js';

/** `fleetctl cordon MACHINE` (ours): nothing new is placed there; what runs there stays. */
export const run: CommandRun = async (context) => {
  const arg = oneMachine(context);
  if (typeof arg === 'number') return arg;
  const cordons = cordonsOf(context);
  if (cordons === null) return 1;
  try {
    const machine = await findMachine(context, cordons, arg);
    if (typeof machine === 'number') return machine;
    if ((await cordons.cordon(machine.id)) === NOT_SERVED) return notSupported(context);
    context.stdout.write(`Machine ${machine.id} cordoned\n`);
    return 0;
  } catch (err) {
    context.stderr.write(`Error cordoning machine ${arg}: ${errorMessage(err)}\n`);
    return 1;
  }
};
