import type { ClusterUnit, Machine, UnitState } from '../registry/model.js';
import type { ApiMachine, ApiUnit, ApiUnitState } from './schema.js';

/**
 * How registry contents appear in the API, written once for the HTTP API and fleetctl's
 * etcd driver alike. Empty fields are omitted, as Go's `omitempty` did.
 */

/**
 * fleet's quirk, kept: a global unit has no current state, which its unit list shows as
 * `inactive` while a single-unit read leaves the field out.
 */
export type GlobalCurrentState = 'inactive-in-lists' | 'omitted';

export function toApiUnit(unit: ClusterUnit, globalCurrentState: GlobalCurrentState): ApiUnit {
  const currentState =
    unit.currentState ?? (globalCurrentState === 'inactive-in-lists' ? 'inactive' : undefined);
  const options = unit.unitFile.options.map(({ name, section, value }) => ({
    name,
    section,
    value,
  }));
  return {
    ...(currentState !== undefined && { currentState }),
    desiredState: unit.desiredState,
    ...(unit.machineID !== null && { machineID: unit.machineID }),
    name: unit.name,
    ...(options.length > 0 && { options }),
  };
}

export function toApiUnitState(state: UnitState): ApiUnitState {
  return {
    ...(state.hash !== '' && { hash: state.hash }),
    ...(state.machineID !== '' && { machineID: state.machineID }),
    name: state.name,
    ...(state.activeState !== '' && { systemdActiveState: state.activeState }),
    ...(state.loadState !== '' && { systemdLoadState: state.loadState }),
    ...(state.subState !== '' && { systemdSubState: state.subState }),
  };
}

export function toApiMachine(machine: Machine): ApiMachine {
  return {
    id: machine.id,
    ...(Object.keys(machine.metadata).length > 0 && { metadata: machine.metadata }),
    ...(machine.publicIP !== '' && { primaryIP: machine.publicIP }),
  };
}
