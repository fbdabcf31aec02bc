import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { registryUnitsNamed } from '../units/registry-units.js';
import { blockAttempts, NO_BLOCK, pollAttempts } from '../units/wait.js';

/** A 404 from the API, or the etcd driver's missing unit: already gone, which is fine. */
export function isUnitNotFound(err: unknown): boolean {
  const { status, code, name, message } = err as {
    status?: unknown;
    code?: unknown;
    name?: unknown;
    message?: unknown;
  };
  return (
    status === 404 ||
    code === 404 ||
    name === 'UnitNotFoundError' ||
    (typeof message === 'string' && message.startsWith('googleapi: Error 404'))
  );
}

/**
 * `fleetctl destroy UNIT...`: deletes the registry's units; the agents stop them. Waits
 * until each unit is gone from the registry unless `--no-block` (fleet waited only with
 * `--no-block`; see docs/fleetctl.md).
 */
export const run: CommandRun = async (context) => {
  const selection = await registryUnitsNamed(context, { allowNone: false });
  if ('exitCode' in selection) return selection.exitCode;
  const { units } = selection;
  const attempts = blockAttempts(context.flags);
  let exit = 0;
  for (const unit of units) {
    try {
      await context.client.destroyUnit(unit.name);
    } catch (err) {
      if (isUnitNotFound(err)) continue;
      context.stderr.write(`Error destroying units: ${errorMessage(err)}\n`);
      exit = 1;
      continue;
    }
    if (attempts !== NO_BLOCK) {
      try {
        const gone = async () => (await context.client.unit(unit.name)) === null;
        await pollAttempts(gone, attempts, context.timing);
      } catch (err) {
        context.stderr.write(`Error destroying units: ${errorMessage(err)}\n`);
        exit = 1;
      }
    }
    context.stdout.write(`Destroyed ${unit.name}\n`);
  }
  return exit;
};
