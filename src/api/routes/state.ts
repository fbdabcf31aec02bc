import type { IncomingMessage, ServerResponse } from 'node:http';
import { toApiUnitState } from '../entities.js';
import { extractPage } from '../page-token.js';
import { sendError, sendJson } from '../respond.js';
import {
  ANSWERED,
  type ApiContext,
  fromRegistry,
  requestPageToken,
  requestQuery,
} from './context.js';
import { nonEmpty } from './wire.js';

const ONLY_GET = 'only GET supported against this resource';

/** `/fleet/v1/state`: published unit states, filtered by `machineID` and `unitName`. */
export async function stateCollection(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET') {
    sendError(res, 405, ONLY_GET);
    return;
  }
  const token = requestPageToken(ctx, req, res);
  if (token === null) return;
  const query = requestQuery(req);
  // The first value of each filter counts; an empty one filters nothing.
  const machineID = query.get('machineID')?.[0] ?? '';
  const unitName = query.get('unitName')?.[0] ?? '';

  const states = await fromRegistry(ctx, res, `Failed fetching page of UnitStates`, () =>
    ctx.registry.cluster.unitStates(),
  );
  if (states === ANSWERED) return;
  const matching = states.filter(
    (state) =>
      (machineID === '' || state.machineID === machineID) &&
      (unitName === '' || state.name === unitName),
  );
  const page = extractPage(matching, token);
  sendJson(res, 200, {
    nextPageToken: page.nextPageToken,
    states: nonEmpty(page.items.map(toApiUnitState)),
  });
}

/**
 * `/fleet/v1/state/<name>`: the state some machine reports. Deviation: without one, fleet
 * crashed the request (the connection dropped); we answer 404 as it intended to.
 */
export async function stateItem(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
): Promise<void> {
  if (req.method !== 'GET') {
    sendError(res, 405, ONLY_GET);
    return;
  }
  const states = await fromRegistry(
    ctx,
    res,
    `Failed fetching UnitState(${name}) from Registry`,
    () => ctx.registry.states.forUnit(name),
  );
  if (states === ANSWERED) return;
  const [state] = states;
  if (state === undefined) {
    sendError(res, 404, 'unit state does not exist');
    return;
  }
  sendJson(res, 200, toApiUnitState(state));
}
