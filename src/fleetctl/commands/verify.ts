import type { CommandRun } from '../context.js';

/** `fleetctl verify`: signed units are gone; the command only says so. */
export const run: CommandRun = async (context) => {
  context.stderr.write(
    'WARNING: The signed/verified units feature is DEPRECATED and cannot be used.\n',
  );
  return 2;
};
