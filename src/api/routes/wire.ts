import { type GoJsonValue, GoMap } from '../../go/json-encode.js';
import type { ApiMachine } from '../schema.js';

/** A machine as the encoder takes it: metadata is a Go map, emitted with sorted keys. */
export function machineJson(machine: ApiMachine): GoJsonValue {
  return {
    id: machine.id,
    metadata: machine.metadata === undefined ? undefined : new GoMap(machine.metadata),
    primaryIP: machine.primaryIP,
  };
}

/** Go's `omitempty` on a slice: an empty list is left out of the page. */
export function nonEmpty<T>(items: readonly T[]): readonly T[] | undefined {
  return items.length > 0 ? items : undefined;
}
