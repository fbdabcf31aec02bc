import { quoteString } from '../../go/text.js';
import { InvalidJobStateError, parseJobState } from '../../job/job.js';
import type { JobState } from '../../job/types.js';
import { validateUnitOptions } from '../../job/validate-options.js';
import type { UnitChange } from '../../registry/ports.js';
import { unitNameInfo, validateSubmittedUnitName } from '../../unit/name.js';
import { UnitFile } from '../../unit/unit-file.js';
import type { UnitBody } from '../request-bodies.js';

/** A PUT refused before anything was written: fleet's status and message. */
export interface PutRefusal {
  status: 400 | 409;
  message: string;
}

/** What a PUT comes to against the unit as it is: a refusal, or a change and its status. */
export type PutDecision =
  | { refused: PutRefusal }
  | { change: UnitChange; status: 201 | 204; replaces: boolean };

/**
 * The checks of a PUT that need nothing stored, in fleet's order: the body's name against
 * the URL's (`item`, absent in a batch), then the name itself. The unit's name, or a refusal.
 */
export function checkPutName(
  item: string | null,
  body: UnitBody,
): { name: string } | { refused: PutRefusal } {
  const name = body.name === '' && item !== null ? item : body.name;
  if (item !== null && name !== item) {
    return {
      refused: {
        status: 400,
        message: `name in URL ${quoteString(item)} differs from unit name in request body ${quoteString(name)}`,
      },
    };
  }
  const invalidName = validateSubmittedUnitName(name);
  return invalidName === null ? { name } : { refused: { status: 400, message: invalidName } };
}

/**
 * What fleet decided once it had read the unit (`existing`, null when absent): create,
 * replace, change the desired state, or refuse. Options are validated only on create, as
 * fleet did (the quirk is recorded).
 */
export function decidePut(
  name: string,
  body: UnitBody,
  existing: { hash: string } | null,
): PutDecision {
  if (existing === null) {
    if (body.options.length === 0) {
      return refuse(409, 'unit does not exist and options field empty');
    }
    const invalidOptions = validateUnitOptions(body.options);
    if (invalidOptions !== null) return refuse(400, invalidOptions);
    return putOf(body, false);
  }
  const unitFile = body.options.length > 0 ? new UnitFile(body.options) : null;
  if (unitFile !== null && unitFile.hash !== existing.hash) return putOf(body, true);
  if (body.desiredState === '') {
    return refuse(409, 'must provide DesiredState to update existing unit');
  }
  if (unitNameInfo(name)?.isTemplate && body.desiredState !== 'inactive') {
    return refuse(400, `cannot activate template ${quoteString(name)}`);
  }
  const desiredState = jobStateOf(body.desiredState);
  if (typeof desiredState !== 'string') return { refused: desiredState };
  return { change: { type: 'desired-state', desiredState }, status: 204, replaces: false };
}

function putOf(body: UnitBody, replaces: boolean): PutDecision {
  const desiredState = jobStateOf(body.desiredState === '' ? 'inactive' : body.desiredState);
  if (typeof desiredState !== 'string') return { refused: desiredState };
  return {
    change: { type: 'put', unitFile: new UnitFile(body.options), desiredState },
    status: 201,
    replaces,
  };
}

/**
 * Deviation: fleet stored any string (answering 204, or 500 on create) and the unit then
 * broke; we refuse it with 400 and `ParseJobState`'s message, writing nothing.
 */
function jobStateOf(value: string): JobState | PutRefusal {
  try {
    return parseJobState(value);
  } catch (err) {
    if (!(err instanceof InvalidJobStateError)) throw err;
    return { status: 400, message: err.message };
  }
}

function refuse(status: PutRefusal['status'], message: string): PutDecision {
  return { refused: { status, message } };
}
