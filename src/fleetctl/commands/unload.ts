import type { CommandRun } from '../context.js';
import { deactivate } from './deactivate.js';

/** `fleetctl unload UNIT...`: back to `inactive`, unscheduling the units. */
export const run: CommandRun = (context) =>
  deactivate(context, {
    target: 'inactive',
    verb: 'unload',
    done: 'unloaded',
    decide: (unit) => (unit.currentState === 'inactive' ? 'skip' : 'change'),
  });
