import { FLEET_VERSION } from '../../version.js';
import type { CommandRun } from '../context.js';

/** `fleetctl version`. */
export const run: CommandRun = async (context) => {
  context.stdout.write(`fleetctl version ${FLEET_VERSION}\n`);
  return 0;
};
