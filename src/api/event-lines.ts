import { goJsonEncode } from '../go/json-encode.js';
import type {
  ClusterChangeBatch,
  ClusterObjectChange,
  ClusterSnapshot,
  Revision,
} from '../registry/model.js';
import { toApiMachine, toApiUnit, toApiUnitState } from './entities.js';
import { machineJson } from './routes/wire.js';

/**
 * The lines of the event stream (ours; docs/api-v1.md, "Event stream"), one JSON object
 * each: a change of a unit, a unit state or a machine, carrying the object exactly as
 * `/fleet/v1/units/<name>`, `/fleet/v1/state` and `/fleet/v1/machines` encode it, or null
 * once it is gone; and `reset`, which starts every snapshot. Revisions are decimal strings:
 * etcd's are 64-bit, beyond what a JSON number keeps exactly in most clients.
 */

type Change = ClusterObjectChange['type'];

/** A reset line, then a change line for every object, all at the snapshot's revision. */
export function snapshotLines(snapshot: ClusterSnapshot): string[] {
  const { revision } = snapshot;
  return [
    goJsonEncode({ type: 'reset', revision }),
    ...snapshot.units.map((unit) =>
      line(revision, 'unit', unit.name, undefined, encoded(unit, apiUnit)),
    ),
    ...snapshot.states.map((state) =>
      line(revision, 'state', state.name, state.machineID, encoded(state, toApiUnitState)),
    ),
    ...snapshot.machines.map((machine) =>
      line(revision, 'machine', machine.id, undefined, encoded(machine, apiMachine)),
    ),
  ];
}

/** A line for each object of the batch whose API form changed: the API hides some fields. */
export function changeLines(batch: ClusterChangeBatch): string[] {
  return batch.changes.flatMap((change) => {
    const [before, after] = apiForms(change);
    if (before === after) return [];
    const machineID = change.type === 'state' ? change.machineID : undefined;
    return [line(batch.revision, change.type, change.name, machineID, after)];
  });
}

/** The change's object before and after, encoded; null when absent. */
function apiForms(change: ClusterObjectChange): [string | null, string | null] {
  switch (change.type) {
    case 'unit':
      return [encoded(change.before, apiUnit), encoded(change.after, apiUnit)];
    case 'state':
      return [encoded(change.before, toApiUnitState), encoded(change.after, toApiUnitState)];
    case 'machine':
      return [encoded(change.before, apiMachine), encoded(change.after, apiMachine)];
  }
}

function encoded<T>(object: T | null, toApi: (object: T) => object): string | null {
  return object === null ? null : goJsonEncode(toApi(object));
}

const apiUnit = (unit: Parameters<typeof toApiUnit>[0]) => toApiUnit(unit, 'omitted');
const apiMachine = (machine: Parameters<typeof toApiMachine>[0]) =>
  machineJson(toApiMachine(machine)) as object;

/** A change line; `object` comes encoded (null: gone) and is spliced in as it is. */
function line(
  revision: Revision,
  type: Change,
  name: string,
  machineID: string | undefined,
  object: string | null,
): string {
  const head = goJsonEncode({ revision, type, name, machineID });
  return `${head.slice(0, -1)},"object":${object ?? 'null'}}`;
}
