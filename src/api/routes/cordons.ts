import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { errorMessage } from '../../error-message.js';
import type { GoJsonValue } from '../../go/json-encode.js';
import type { Machine, StoredCordon } from '../../registry/model.js';
import { noteAuditedMachines } from '../access/audit.js';
import { hangUpSignal } from '../client-gone.js';
import { toApiMachine } from '../entities.js';
import { readRequestBody } from '../request-body.js';
import { sendError, sendJson, sendStatus } from '../respond.js';
import { ANSWERED, type ApiContext, fromRegistry, logIfDropped } from './context.js';
import { machineJson } from './wire.js';

/** The most units a drain may move at once: more is a mass move, not a drain. */
export const MAX_DRAIN_PARALLEL = 1000;

/** `POST /fleet/ext/v1/machines/<id>/drain`: the body, all of it optional. */
const drainBodySchema = z
  .object({ maxParallel: z.number().int().min(1).max(MAX_DRAIN_PARALLEL).default(1) })
  .strict();

/**
 * `GET /fleet/ext/v1/machines` (ours): every live machine as `/fleet/v1/machines` shows it,
 * with its cordon and drain, then the cordoned machines that are not live.
 */
export async function cordonsCollection(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET') {
    sendError(res, 405, 'only GET supported against this resource');
    return;
  }
  const read = await fromRegistry(ctx, res, 'Failed fetching Machines', () =>
    Promise.all([ctx.registry.cluster.machines(), ctx.registry.cordons.list()]),
  );
  if (read === ANSWERED) return;
  const [machines, cordons] = read;
  const live = new Set(machines.map((machine) => machine.id));
  const absent = [...cordons.keys()].filter((id) => !live.has(id)).sort();
  sendJson(res, 200, {
    machines: [
      ...machines.map((machine) => entry(machine.id, machine, cordons.get(machine.id))),
      ...absent.map((id) => entry(id, null, cordons.get(id))),
    ],
  });
}

function entry(id: string, machine: Machine | null, cordon: StoredCordon | undefined): GoJsonValue {
  const shown = machine === null ? { id } : (machineJson(toApiMachine(machine)) as object);
  return {
    ...shown,
    present: machine !== null,
    cordoned: cordon !== undefined,
    drain: cordon?.record.drain ?? null,
  };
}

/**
 * `/fleet/ext/v1/machines/<id>/cordon` (PUT cordons, DELETE uncordons) and
 * `/fleet/ext/v1/machines/<id>/drain` (POST starts a drain). Cordoning or draining needs a
 * live machine; uncordoning, only a cordon.
 */
export async function machineCordon(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  machineID: string,
  action: string,
): Promise<void> {
  const allowed = action === 'cordon' ? ['PUT', 'DELETE'] : action === 'drain' ? ['POST'] : null;
  if (allowed === null) {
    sendError(res, 404);
    return;
  }
  if (!allowed.includes(req.method ?? '')) {
    sendError(res, 405, `only ${allowed.join(' and ')} supported against this resource`);
    return;
  }
  noteAuditedMachines(res, [machineID]);
  let maxParallel = 1;
  if (action === 'drain') {
    const body = await readRequestBody(req);
    const parsed = parseDrainBody(body.toString('utf8'));
    if (typeof parsed === 'string') {
      sendError(res, 400, parsed);
      return;
    }
    maxParallel = parsed;
  }
  if (req.method !== 'DELETE') {
    const machines = await fromRegistry(ctx, res, 'Failed fetching Machines', () =>
      ctx.registry.cluster.machines(),
    );
    if (machines === ANSWERED) return;
    if (!machines.some((machine) => machine.id === machineID)) {
      sendError(res, 404, 'machine does not exist');
      return;
    }
  }
  const options = { signal: hangUpSignal(res) };
  try {
    if (req.method === 'DELETE') {
      if (!(await ctx.registry.cordons.uncordon(machineID, options))) {
        sendError(res, 404, 'machine is not cordoned');
        return;
      }
    } else if (action === 'drain') {
      await ctx.registry.cordons.drain(machineID, maxParallel, options);
    } else {
      await ctx.registry.cordons.cordon(machineID, options);
    }
  } catch (err) {
    if (logIfDropped(ctx, res)) return;
    ctx.log.error({ err, machineID }, `Failed writing a cordon: ${errorMessage(err)}`);
    sendError(res, 500);
    return;
  }
  sendStatus(res, 204);
}

/** The drain's `maxParallel`, or what is wrong with the body. */
function parseDrainBody(text: string): number | string {
  let json: unknown = {};
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      return 'unable to decode body: not JSON';
    }
  }
  const parsed = drainBodySchema.safeParse(json);
  if (parsed.success) return parsed.data.maxParallel;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return `invalid drain: ${where}${issue?.message ?? ''}`;
}
