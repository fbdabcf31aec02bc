import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import { isGlobalUnit } from '../../job/requirements.js';
import type { UnitFile } from '../../unit/unit-file.js';
import { LIST_UNIT_FILES_FIELDS } from '../args/specs.js';
import type { CommandContext, CommandRun } from '../context.js';
import { machineFullLegend } from '../units/machines.js';
import { unitFileOf } from '../units/unit-arguments.js';
import { parseFields, printTable } from './fields.js';

type Field = (typeof LIST_UNIT_FILES_FIELDS)[number];

/** `fleetctl list-unit-files`: one row per unit in the registry, loaded or not. */
export const run: CommandRun = async (context) => {
  const fields = parseFields(context, LIST_UNIT_FILES_FIELDS, (field) => {
    if (field === 'tmachine') {
      context.stderr.write('WARNING: The "tmachine" field is deprecated. Use "target" instead\n');
    }
  }) as Field[] | null;
  if (fields === null) return 1;
  let units: ApiUnit[];
  try {
    units = await context.client.units();
  } catch (err) {
    context.stderr.write(`Error retrieving list of units from repository: ${errorMessage(err)}\n`);
    return 1;
  }
  const full = context.flags.bool('full');
  const rows = await Promise.all(
    units.map((unit) => {
      const file = unitFileOf(unit);
      const row: Row = { unit, file, global: isGlobalUnit(file) };
      return Promise.all(fields.map((field) => cell(context, row, field, full)));
    }),
  );
  printTable(context, fields, rows);
  return 0;
};

interface Row {
  unit: ApiUnit;
  file: UnitFile;
  global: boolean;
}

async function cell(
  context: CommandContext,
  { unit, file, global }: Row,
  field: Field,
  full: boolean,
): Promise<string> {
  switch (field) {
    case 'unit':
      return unit.name;
    case 'global':
      return String(global);
    case 'dstate':
      return unit.desiredState || '-';
    case 'state':
      return global || !unit.currentState ? '-' : unit.currentState;
    case 'target':
    case 'tmachine': {
      if (global) return 'global';
      const id = unit.machineID ?? '';
      if (id === '') return '-';
      const machine = (await context.machines.cached(id)) ?? { id };
      return machineFullLegend(machine, full);
    }
    case 'hash':
      return full ? file.hash : file.hash.slice(0, 7);
    case 'desc':
      return file.description || '-';
  }
}
