import type { IncomingMessage, ServerResponse } from 'node:http';
import { trimGoSpace } from '../../go/text.js';
import { parseJobState } from '../../job/job.js';
import { isJobState } from '../../job/types.js';
import { validateUnitOptions } from '../../job/validate-options.js';
import type { StoredUnit } from '../../registry/model.js';
import { unitNameInfo } from '../../unit/name.js';
import { UnitFile } from '../../unit/unit-file.js';
import { hangUpSignal } from '../client-gone.js';
import { toApiUnit } from '../entities.js';
import { extractPage } from '../page-token.js';
import { BodyDecodeError, decodeUnitBody, type UnitBody } from '../request-bodies.js';
import { readRequestBody } from '../request-body.js';
import { sendError, sendJson, sendStatus } from '../respond.js';
import { ANSWERED, type ApiContext, fromRegistry, requestPageToken } from './context.js';
import { checkPutName, decidePut } from './unit-put-decision.js';
import { nonEmpty } from './wire.js';

/** `/fleet/v1/units`: GET lists; any other method is refused with fleet's text. */
export async function unitsCollection(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET') {
    sendError(res, 405, 'only GET supported against this resource');
    return;
  }
  const token = requestPageToken(ctx, req, res);
  if (token === null) return;
  const units = await fromRegistry(ctx, res, `Failed fetching page of Units`, () =>
    ctx.registry.cluster.units(),
  );
  if (units === ANSWERED) return;
  const page = extractPage(units, token);
  sendJson(res, 200, {
    nextPageToken: page.nextPageToken,
    units: nonEmpty(page.items.map((unit) => toApiUnit(unit, 'inactive-in-lists'))),
  });
}

/** `/fleet/v1/units/<name>`: GET, PUT and DELETE. */
export async function unitItem(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
): Promise<void> {
  switch (req.method) {
    case 'GET':
      return getUnit(ctx, res, name);
    case 'PUT':
      return putUnit(ctx, req, res, name);
    case 'DELETE':
      return deleteUnit(ctx, res, name);
    default:
      sendError(res, 405, 'only GET, PUT and DELETE supported against this resource');
  }
}

async function getUnit(ctx: ApiContext, res: ServerResponse, name: string): Promise<void> {
  const unit = await fromRegistry(ctx, res, `Failed fetching Unit(${name}) from Registry`, () =>
    ctx.registry.cluster.unit(name),
  );
  if (unit === ANSWERED) return;
  if (unit === null) {
    sendError(res, 404, 'unit does not exist');
    return;
  }
  sendJson(res, 200, toApiUnit(unit, 'omitted'));
}

async function deleteUnit(ctx: ApiContext, res: ServerResponse, name: string): Promise<void> {
  const found = await fromRegistry(ctx, res, `Failed destroying Unit(${name})`, () =>
    ctx.registry.units.destroy(name, { signal: hangUpSignal(res) }),
  );
  if (found === ANSWERED) return;
  if (!found) {
    sendError(res, 404, 'unit does not exist');
    return;
  }
  ctx.registry.unitFileCollector.sweepSoon();
  sendStatus(res, 204);
}

/**
 * Create, replace or change the desired state, decided in fleet's order: media type, body,
 * name, then what exists (`decidePut`). Nothing is written unless every check before the
 * write passed.
 */
async function putUnit(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  item: string,
): Promise<void> {
  const mediaTypeProblem = contentTypeProblem(req.headersDistinct['content-type'] ?? []);
  if (mediaTypeProblem !== null) {
    sendError(res, 415, mediaTypeProblem);
    return;
  }

  let body: UnitBody;
  try {
    body = decodeUnitBody(await readRequestBody(req));
  } catch (err) {
    if (!(err instanceof BodyDecodeError)) throw err;
    sendError(res, 400, `unable to decode body: ${err.message}`);
    return;
  }

  const named = checkPutName(item, body);
  if ('refused' in named) {
    sendError(res, named.refused.status, named.refused.message);
    return;
  }
  const { name } = named;

  const fetchFailed = `Failed fetching Unit(${name}) from Registry`;
  // The common requests first, each one guarded transaction when the store's guess holds:
  // the checks they skip depend on the unit existing and all pass either way.
  if (body.options.length === 0 && desiredStateChangeAllowed(name, body.desiredState)) {
    const desiredState = parseJobState(body.desiredState);
    const found = await fromRegistry(ctx, res, fetchFailed, () =>
      ctx.registry.units.setDesiredState(name, desiredState, { signal: hangUpSignal(res) }),
    );
    if (found === ANSWERED) return;
    if (found) sendStatus(res, 204);
    else sendError(res, 409, 'unit does not exist and options field empty');
    return;
  }
  let existing: StoredUnit | null | typeof ANSWERED;
  const createState = body.desiredState === '' ? 'inactive' : body.desiredState;
  if (
    body.options.length > 0 &&
    validateUnitOptions(body.options) === null &&
    isJobState(createState)
  ) {
    existing = await fromRegistry(ctx, res, fetchFailed, () =>
      ctx.registry.units.createIfAbsent(name, new UnitFile(body.options), createState, {
        signal: hangUpSignal(res),
      }),
    );
    if (existing === ANSWERED) return;
    if (existing === null) {
      sendStatus(res, 201);
      return;
    }
  } else {
    existing = await fromRegistry(ctx, res, fetchFailed, () => ctx.registry.units.get(name));
    if (existing === ANSWERED) return;
  }

  const decision = decidePut(name, body, existing);
  if ('refused' in decision) {
    sendError(res, decision.refused.status, decision.refused.message);
    return;
  }
  const { change } = decision;
  if (change.type === 'put') {
    const created = await fromRegistry(ctx, res, `Failed creating Unit(${name}) in Registry`, () =>
      ctx.registry.units.put(name, change.unitFile, change.desiredState, {
        signal: hangUpSignal(res),
      }),
    );
    if (created === ANSWERED) return;
    sendStatus(res, 201);
    // The old content may now be referenced by no unit.
    if (decision.replaces) ctx.registry.unitFileCollector.sweepSoon();
    return;
  }

  const found = await fromRegistry(ctx, res, `Failed setting target state of Unit(${name})`, () =>
    ctx.registry.units.setDesiredState(name, change.desiredState, { signal: hangUpSignal(res) }),
  );
  if (found === ANSWERED) return;
  if (!found) {
    // Destroyed between our read and our write.
    sendError(res, 404, 'unit does not exist');
    return;
  }
  sendStatus(res, 204);
}

/** Whether a desired-state change of an existing unit passes every check before the write. */
function desiredStateChangeAllowed(name: string, value: string): boolean {
  if (!isJobState(value)) return false;
  return value === 'inactive' || unitNameInfo(name)?.isTemplate !== true;
}

/** fleet's `validateContentType`: exactly one header, media type exactly `application/json`. */
export function contentTypeProblem(values: readonly string[]): string | null {
  if (values.length !== 1) return `expected 1 Content-Type, got ${values.length}`;
  const mediaType = trimGoSpace((values[0] ?? '').split(';', 1)[0] ?? '');
  return mediaType === 'application/json'
    ? null
    : 'only acceptable Content-Type is application/json';
}
