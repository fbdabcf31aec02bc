import { quoteString } from '../go/text.js';
import type { SchedulerUnit } from '../placement/model.js';
import { hasMetadata, matchesMachineID } from '../placement/rules.js';
import type { AgentView } from './agent-view.js';

/**
 * fleet's `AbleToRun` outcome for a unit on one machine. `reschedule` means the unit may run
 * there but shares the machine with a unit it replaces or that replaces it.
 */
export type Verdict =
  | { action: 'schedule' }
  | { action: 'unschedule'; reason: string }
  | { action: 'reschedule'; reason: string };

const SCHEDULE: Verdict = { action: 'schedule' };

/** The checks of fleet's `AgentState.AbleToRun`, in its order, with its reasons. */
export function ableToRun(view: AgentView, unit: SchedulerUnit): Verdict {
  const { machineID, metadata, peers } = unit.requirements;
  const machine = view.machine;

  if (machineID !== null && !matchesMachineID(machine.id, machineID)) {
    return unschedule(
      `agent ID ${quoteString(machine.id)} does not match required ${quoteString(machineID)}`,
    );
  }
  if (!hasMetadata(machine, metadata)) return unschedule('local Machine metadata insufficient');

  const missingPeer = peers.find((peer) => !view.has(peer));
  if (missingPeer !== undefined) {
    return unschedule(`required peer Unit(${missingPeer}) is not scheduled locally`);
  }

  const conflicting = view.firstConflict(unit);
  if (conflicting !== undefined) {
    return unschedule(`found conflict with locally-scheduled Unit(${conflicting.name})`);
  }

  const related = view.firstReplaceRelation(unit);
  if (related !== undefined) {
    return {
      action: 'reschedule',
      reason: `found replace with locally-scheduled Unit(${related.name})`,
    };
  }
  return SCHEDULE;
}

function unschedule(reason: string): Verdict {
  return { action: 'unschedule', reason };
}
