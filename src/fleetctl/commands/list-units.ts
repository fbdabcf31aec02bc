import type { ApiUnitState } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import { LIST_UNITS_FIELDS } from '../args/specs.js';
import type { CommandContext, CommandRun } from '../context.js';
import { machineFullLegend } from '../units/machines.js';
import { parseFields, printTable } from './fields.js';

type Field = (typeof LIST_UNITS_FIELDS)[number];

/** `fleetctl list-units`: one row per unit state, i.e. per unit and machine reporting it. */
export const run: CommandRun = async (context) => {
  const fields = parseFields(context, LIST_UNITS_FIELDS) as Field[] | null;
  if (fields === null) return 1;
  let states: ApiUnitState[];
  try {
    states = await context.client.unitStates();
  } catch (err) {
    context.stderr.write(`Error retrieving list of units from repository: ${errorMessage(err)}\n`);
    return 1;
  }
  const full = context.flags.bool('full');
  const rows = await Promise.all(
    states.map((state) => Promise.all(fields.map((field) => cell(context, state, field, full)))),
  );
  printTable(context, fields, rows);
  return 0;
};

async function cell(
  context: CommandContext,
  state: ApiUnitState,
  field: Field,
  full: boolean,
): Promise<string> {
  switch (field) {
    case 'unit':
      return state.name;
    case 'load':
      return state.systemdLoadState ?? '';
    case 'active':
      return state.systemdActiveState ?? '';
    case 'sub':
      return state.systemdSubState ?? '';
    case 'machine': {
      const id = state.machineID ?? '';
      if (id === '') return '-';
      const machine = (await context.machines.cached(id)) ?? { id };
      return machineFullLegend(machine, full);
    }
    case 'hash': {
      const hash = state.hash ?? '';
      if (hash === '') return '-';
      return full ? hash : hash.slice(0, 7);
    }
  }
}
