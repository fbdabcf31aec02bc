import type { CommandRun } from '../context.js';
import { deactivate } from './deactivate.js';

/** `fleetctl stop UNIT...`: back to `loaded`; a unit that is not loaded cannot stop. */
export const run: CommandRun = (context) =>
  deactivate(context, {
    target: 'loaded',
    verb: 'stop',
    done: 'stopped',
    decide: (unit) =>
      unit.currentState === 'inactive'
        ? 'fail'
        : unit.currentState === 'loaded'
          ? 'skip'
          : 'change',
  });
