import type { ApiMachine } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import { LIST_MACHINES_FIELDS } from '../args/specs.js';
import type { CommandRun } from '../context.js';
import { machineIdLegend } from '../units/machines.js';
import { parseFields, printTable } from './fields.js';

type Field = (typeof LIST_MACHINES_FIELDS)[number];

const METADATA_OPERATORS = ['<=', '>=', '!=', '==', '<', '>'];

/** `k=v` pairs sorted by key; a value that starts with an operator is shown as `k<op>v`. */
function formatMetadata(metadata: Readonly<Record<string, string>>): string {
  return Object.keys(metadata)
    .sort()
    .map((key) => {
      const value = metadata[key]!;
      const operator = METADATA_OPERATORS.some((op) => value.startsWith(op));
      return operator ? `${key}${value}` : `${key}=${value}`;
    })
    .join(',');
}

function cell(machine: ApiMachine, field: Field, full: boolean): string {
  switch (field) {
    case 'machine':
      return machineIdLegend(machine, full);
    case 'ip':
      return machine.primaryIP || '-';
    case 'metadata': {
      const metadata = machine.metadata ?? {};
      return Object.keys(metadata).length === 0 ? '-' : formatMetadata(metadata);
    }
  }
}

/** `fleetctl list-machines`: the live machines with their address and metadata. */
export const run: CommandRun = async (context) => {
  const fields = parseFields(context, LIST_MACHINES_FIELDS) as Field[] | null;
  if (fields === null) return 1;
  let machines: ApiMachine[];
  try {
    machines = await context.client.machines();
  } catch (err) {
    context.stderr.write(
      `Error retrieving list of active machines from fleet API (${errorMessage(err)})\n` +
        'Possible issues:\n' +
        '  etcd is unhealthy and/or lost quorum\n' +
        '  connection cannot be established to any etcd servers\n',
    );
    return 1;
  }
  const full = context.flags.bool('full');
  const rows = machines.map((machine) => fields.map((field) => cell(machine, field, full)));
  printTable(context, fields, rows);
  return 0;
};
