import type { FleetClient } from '../../client/types.js';

/**
 * `--machine` of `status` and `journal`: the full ID of the one machine whose ID starts with
 * the argument, as `ssh --machine` finds it; errors carry fleet's words for that lookup.
 * The short form list-machines prints (`113f16a7...`) is taken as it is pasted.
 */
export async function chooseMachine(client: FleetClient, given: string): Promise<string> {
  const prefix = given.replace(/\.\.\.$/, '');
  const matches = (await client.machines()).filter((machine) => machine.id.startsWith(prefix));
  if (matches.length > 1) throw new Error('found more than one machine');
  const [machine] = matches;
  if (machine === undefined) throw new Error('machine does not exist');
  return machine.id;
}

/**
 * The machine a command for the unit runs on: a global unit's is the chosen one, another
 * unit's its own, which a chosen machine must be. Null for a global unit with no choice.
 */
export function targetMachine(
  unit: { name: string; machineID?: string | undefined },
  global: boolean,
  chosen: string | null,
): { machineID: string } | { error: string } | null {
  if (global) return chosen === null ? null : { machineID: chosen };
  const own = unit.machineID ?? '';
  if (chosen !== null && chosen !== own) {
    return { error: `Unit ${unit.name} is not on machine ${chosen}.` };
  }
  return { machineID: own };
}
