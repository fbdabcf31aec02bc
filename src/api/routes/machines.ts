import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { errorMessage } from '../../error-message.js';
import type { MetadataEdit } from '../../registry/model.js';
import { noteAuditedMachines } from '../access/audit.js';
import { hangUpSignal } from '../client-gone.js';
import { toApiMachine } from '../entities.js';
import { extractPage } from '../page-token.js';
import { BodyDecodeError, decodeMetadataOps, type MetadataOp } from '../request-bodies.js';
import { readRequestBody } from '../request-body.js';
import { sendError, sendJson, sendJsonNoContent } from '../respond.js';
import {
  ANSWERED,
  type ApiContext,
  fromRegistry,
  logIfDropped,
  requestPageToken,
} from './context.js';
import { machineJson, nonEmpty } from './wire.js';

const METADATA_PATH = /^\/([^/]+)\/metadata\/([A-Za-z0-9_.-]+$)/;

/** One operation as fleet checked it: the op, then the path, then the value. */
const metadataOpSchema = z
  .object({
    op: z.enum(['add', 'remove', 'replace'], {
      error: 'invalid op: expect add, remove, or replace',
    }),
    path: z.string().regex(METADATA_PATH, 'machine metadata path invalid'),
    value: z.object({ value: z.string() }),
  })
  .refine(
    (op) => op.op === 'remove' || op.value.value !== '',
    'invalid value: add and replace require a value',
  );

/** `/fleet/v1/machines`: GET lists live machines, PATCH edits their metadata. */
export async function machinesCollection(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  switch (req.method) {
    case 'GET':
      return listMachines(ctx, req, res);
    case 'PATCH':
      return patchMetadata(ctx, req, res);
    default:
      sendError(res, 405, 'only GET and PATCH supported against this resource');
  }
}

async function listMachines(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const token = requestPageToken(ctx, req, res);
  if (token === null) return;
  const machines = await fromRegistry(ctx, res, `Failed fetching page of Machines`, () =>
    ctx.registry.cluster.machines(),
  );
  if (machines === ANSWERED) return;
  const page = extractPage(machines, token);
  sendJson(res, 200, {
    machines: nonEmpty(page.items.map((machine) => machineJson(toApiMachine(machine)))),
    nextPageToken: page.nextPageToken,
  });
}

/**
 * Every operation is checked before any is applied, so a bad one anywhere changes nothing.
 * `remove` writes an empty value, which hides a key of the machine's own configuration.
 */
async function patchMetadata(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let ops: MetadataOp[];
  try {
    ops = decodeMetadataOps(await readRequestBody(req));
  } catch (err) {
    if (!(err instanceof BodyDecodeError)) throw err;
    sendError(res, 400, err.message);
    return;
  }
  const checked = z.array(metadataOpSchema).safeParse(ops);
  if (!checked.success) {
    sendError(res, 400, checked.error.issues[0]?.message ?? '');
    return;
  }
  const edits = checked.data.map((op): MetadataEdit => {
    const [, machineID = '', key = ''] = METADATA_PATH.exec(op.path) ?? [];
    return { machineID, key, value: op.op === 'remove' ? null : op.value.value };
  });
  noteAuditedMachines(
    res,
    edits.map((edit) => edit.machineID),
  );
  try {
    await ctx.registry.machines.editMetadata(edits, { signal: hangUpSignal(res) });
  } catch (err) {
    if (logIfDropped(ctx, res)) return;
    ctx.log.error({ err }, `Failed editing machine metadata: ${errorMessage(err)}`);
    sendError(res, 500, errorMessage(err));
    return;
  }
  sendJsonNoContent(res);
}
