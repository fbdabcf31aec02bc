import type { CommandRun } from '../context.js';
import { blockAttempts, tryWaitForSystemdActive } from '../units/wait.js';
import { activate } from './activate.js';

/**
 * `fleetctl start UNIT...`: submits and schedules if needed, launches, and then waits
 * until systemd reports the units active.
 */
export const run: CommandRun = async (context) => {
  const outcome = await activate(context, {
    target: 'launched',
    verb: 'start',
    gerund: 'starting',
  });
  if ('exit' in outcome) return outcome.exit;
  const failure = await tryWaitForSystemdActive(
    context,
    outcome.waited,
    blockAttempts(context.flags),
  );
  if (failure !== null) {
    context.stderr.write(`Error waiting for systemd unit states, err: ${failure.message}\n`);
    return 1;
  }
  return 0;
};
