import { errorMessage } from '../error-message.js';
import { matchGlob } from '../go/path-match.js';
import { quoteString } from '../go/text.js';
import { deserializeUnitFile, type UnitOption } from '../unit/deserialize.js';
import { serializeUnitOptions } from '../unit/serialize.js';
import { UnitFile } from '../unit/unit-file.js';
import { jobRequirements } from './requirements.js';

/**
 * fleet's `ValidateOptions`, run by the API on create and by fleetctl before submitting:
 * the original's message for the first problem, or `null`. It evaluates requirements
 * without a unit name, so specifiers are compared literally, as the original does.
 */
export function validateUnitOptions(options: readonly UnitOption[]): string | null {
  const canonical = serializeUnitOptions(options);
  try {
    deserializeUnitFile(canonical);
  } catch (err) {
    return errorMessage(err);
  }

  const unit = new UnitFile(options);
  const requirements = jobRequirements('', unit);
  const peers = [...new Set(requirements.peers)];
  const conflicts = [...new Set(requirements.conflicts)];
  const replaces = [...new Set(requirements.replaces)];

  for (const peer of peers) {
    for (const conflict of conflicts) {
      if (matchGlob(conflict, peer)) {
        return `unresolvable requirements: peer ${quoteString(peer)} matches conflict ${quoteString(conflict)}`;
      }
    }
    for (const replace of replaces) {
      if (matchGlob(replace, peer)) {
        return `unresolvable requirements: peer ${quoteString(peer)} matches replace ${quoteString(replace)}`;
      }
    }
  }

  const hasMachineID = requirements.machineID !== null;
  const hasPeers = peers.length > 0;
  const hasConflicts = conflicts.length > 0;
  const hasReplaces = replaces.length > 0;
  const isGlobal = requirements.global;
  if (hasMachineID && hasPeers) return 'MachineID cannot be used with Peers';
  if (hasMachineID && hasConflicts) return 'MachineID cannot be used with Conflicts';
  if (hasMachineID && isGlobal) return 'MachineID cannot be used with Global';
  if (hasMachineID && hasReplaces) return 'MachineID cannot be used with Replaces';
  if (isGlobal && hasPeers) return 'Global cannot be used with Peers';
  if (isGlobal && hasReplaces) return 'Global cannot be used with Replaces';
  if (hasConflicts && hasReplaces) return 'Conflicts cannot be used with Replaces';
  return null;
}
