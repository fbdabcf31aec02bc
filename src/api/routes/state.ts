import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UnitState } from '../../registry/state-store.js';
import { toApiUnitState } from '../entities.js';
import { extractPage } from '../page-token.js';
import { sendError, sendJson } from '../respond.js';
import { type ApiContext, requestPageToken, requestQuery } from './context.js';
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

  let states: UnitState[];
  try {
    states = await ctx.registry.cluster.unitStates();
  } catch (err) {
    ctx.log.error({ err }, `Failed fetching page of UnitStates: ${(err as Error).message}`);
    sendError(res, 500);
    return;
  }
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
  let states: UnitState[];
  try {
    states = await ctx.registry.states.forUnit(name);
  } catch (err) {
    ctx.log.error(
      { err },
      `Failed fetching UnitState(${name}) from Registry: ${(err as Error).message}`,
    );
    sendError(res, 500);
    return;
  }
  const [state] = states;
  if (state === undefined) {
    sendError(res, 404, 'unit state does not exist');
    return;
  }
  sendJson(res, 200, toApiUnitState(state));
}
