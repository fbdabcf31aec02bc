import type { ApiUnit } from '../../api/schema.js';
import type { CommandContext } from '../context.js';

const LOG_SOURCE = 'target-state.ts';

/**
 * fleet's `setTargetStateOfUnits`: sets the desired state of each named unit, skipping
 * those already there, and returns the units it changed. The first error ends it (this is
 * not a transaction), with fleet's message.
 */
export async function setTargetStates(
  context: CommandContext,
  names: readonly string[],
  state: string,
): Promise<ApiUnit[]> {
  const triggered: ApiUnit[] = [];
  for (const name of names) {
    let unit: ApiUnit | null;
    try {
      unit = await context.client.unit(name);
    } catch (err) {
      throw new Error(`error retrieving unit ${name} from registry: ${(err as Error).message}`);
    }
    if (unit === null) throw new Error(`unable to find unit ${name}`);
    if (unit.desiredState === state) {
      context.log.debug(LOG_SOURCE, `Unit(${name}) already ${state}, skipping.`);
      continue;
    }
    context.log.debug(LOG_SOURCE, `Setting Unit(${name}) target state to ${state}`);
    await context.client.setUnitTargetState(name, state);
    triggered.push(unit);
  }
  return triggered;
}
