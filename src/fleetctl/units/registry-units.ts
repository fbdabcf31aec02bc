import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { CommandContext } from '../context.js';
import { selectUnits } from './unit-arguments.js';

/** The units to act on, or the exit status fleet gave up with (its message already written). */
export type RegistrySelection = { units: ApiUnit[] } | { exitCode: number };

/**
 * The registry's units named by the arguments, as `stop`, `unload`, `destroy` and
 * `restart` look them up: no arguments and (unless `allowNone`) no match are not errors
 * (exit 0), a failed lookup is (exit 1).
 */
export async function registryUnitsNamed(
  context: CommandContext,
  { allowNone }: { allowNone: boolean },
): Promise<RegistrySelection> {
  if (context.args.length === 0) {
    context.stderr.write('No units given\n');
    return { exitCode: 0 };
  }
  let units: ApiUnit[];
  try {
    units = selectUnits(await context.client.units(), context.args);
  } catch (err) {
    context.stderr.write(`${errorMessage(err)}\n`);
    return { exitCode: 1 };
  }
  if (!allowNone && units.length === 0) {
    context.stderr.write('Units not found in registry\n');
    return { exitCode: 0 };
  }
  return { units };
}
