import type { CommandRun } from '../context.js';
import { activate } from './activate.js';

/** `fleetctl load UNIT...`: submits if needed, then schedules without starting. */
export const run: CommandRun = async (context) => {
  const outcome = await activate(context, { target: 'loaded', verb: 'load', gerund: 'loading' });
  return 'exit' in outcome ? outcome.exit : 0;
};
