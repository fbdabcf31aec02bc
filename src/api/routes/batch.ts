import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../../error-message.js';
import type { JsonNode } from '../../go/json-value.js';
import type { BatchEntry, BatchResult } from '../../registry/ports.js';
import { UnitFile } from '../../unit/unit-file.js';
import { noteAuditedUnits } from '../access/audit.js';
import { grantsAllow, refusalReason } from '../access/roles.js';
import { hangUpSignal } from '../client-gone.js';
import {
  BodyDecodeError,
  decodeBatchUnits,
  decodeUnitNode,
  type UnitBody,
} from '../request-bodies.js';
import { MAX_BODY_BYTES, readRequestBody } from '../request-body.js';
import { sendError, sendJson } from '../respond.js';
import { type ApiContext, logIfDropped } from './context.js';
import { checkPutName, decidePut, type PutDecision } from './unit-put-decision.js';
import { contentTypeProblem } from './units.js';

/** A batch holds at most this many units… */
export const MAX_BATCH_UNITS = 1000;
/** …in a body of at most 8 MiB (a single PUT's is 1 MiB). */
export const MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024;

/** One unit's outcome, as the batch answers it. */
interface UnitOutcome {
  name: string;
  status: 201 | 204 | 400 | 403 | 404 | 409 | 413 | 500;
  error?: { code: number; message: string };
}

/** A unit that passed every check that needs nothing stored, to be decided and written. */
interface Accepted {
  position: number;
  name: string;
  body: UnitBody;
  /** The decision against the unit as last seen by the write. */
  decision: PutDecision | null;
}

/**
 * `POST /fleet/ext/v1/batch` (ours): many units created, replaced or given a desired state
 * in one request, each decided exactly as its own `PUT /fleet/v1/units/<name>` would be and
 * answered with its own status, the whole written in as few transactions as etcd takes.
 */
export async function unitsBatch(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') {
    sendError(res, 405, 'only POST supported against this resource');
    return;
  }
  const mediaTypeProblem = contentTypeProblem(req.headersDistinct['content-type'] ?? []);
  if (mediaTypeProblem !== null) {
    sendError(res, 415, mediaTypeProblem);
    return;
  }
  let nodes: JsonNode[];
  try {
    nodes = decodeBatchUnits(await readRequestBody(req, MAX_BATCH_BODY_BYTES));
  } catch (err) {
    if (!(err instanceof BodyDecodeError)) throw err;
    sendError(res, 400, `unable to decode body: ${err.message}`);
    return;
  }
  if (nodes.length > MAX_BATCH_UNITS) {
    sendError(res, 413, `batch of ${nodes.length} units exceeds ${MAX_BATCH_UNITS}`);
    return;
  }

  const outcomes: Array<UnitOutcome | undefined> = nodes.map(() => undefined);
  const accepted = acceptUnits(ctx, req, nodes, outcomes);
  const entries: BatchEntry[] = accepted.map((unit) => ({
    name: unit.name,
    decide: (current) => {
      unit.decision = decidePut(unit.name, unit.body, current);
      return 'change' in unit.decision ? unit.decision.change : null;
    },
  }));
  let results: BatchResult[];
  try {
    results = await ctx.registry.units.applyBatch(entries, { signal: hangUpSignal(res) });
  } catch (err) {
    if (logIfDropped(ctx, res)) return;
    ctx.log.error({ err }, `Failed writing a batch of units: ${errorMessage(err)}`);
    sendError(res, 500);
    return;
  }
  let replaced = false;
  accepted.forEach((unit, index) => {
    const result = results[index] ?? { outcome: 'unchanged' };
    outcomes[unit.position] = outcomeOf(ctx, unit, result);
    if (result.outcome === 'written' && unit.decision !== null && 'change' in unit.decision) {
      replaced ||= unit.decision.replaces;
    }
  });
  // The old content of a replaced unit may now be referenced by no unit.
  if (replaced) ctx.registry.unitFileCollector.sweepSoon();

  const answered = outcomes.map((outcome) => outcome ?? failed('', 500, ''));
  noteAuditedUnits(
    res,
    answered.map(({ name, status }) => ({ unit: name, status })),
  );
  sendJson(res, 200, { results: answered });
}

/**
 * Decodes each unit and runs the checks that need nothing stored, in the single PUT's order,
 * then the caller's grants and the names given twice (each of those refused: which one was
 * meant cannot be told). Refusals go into `outcomes`; the rest are returned.
 */
function acceptUnits(
  ctx: ApiContext,
  req: IncomingMessage,
  nodes: readonly JsonNode[],
  outcomes: Array<UnitOutcome | undefined>,
): Accepted[] {
  const grants = ctx.grantsOf?.(req);
  const named: Accepted[] = [];
  nodes.forEach((node, position) => {
    let body: UnitBody;
    try {
      body = decodeUnitNode(node);
    } catch (err) {
      if (!(err instanceof BodyDecodeError)) throw err;
      outcomes[position] = failed(nameIn(node), 400, `unable to decode body: ${err.message}`);
      return;
    }
    // Its own PUT could not carry more than this; nor can one etcd request with room to spare.
    if (body.options.length > 0) {
      const bytes = Buffer.byteLength(new UnitFile(body.options).serialized);
      if (bytes > MAX_BODY_BYTES) {
        outcomes[position] = failed(body.name, 413, `unit file exceeds ${MAX_BODY_BYTES} bytes`);
        return;
      }
    }
    const checked = checkPutName(null, body);
    if ('refused' in checked) {
      outcomes[position] = failed(body.name, checked.refused.status, checked.refused.message);
      return;
    }
    const action = { kind: 'unit-write' as const, unit: checked.name };
    if (grants !== undefined && !grantsAllow(grants, action)) {
      outcomes[position] = failed(checked.name, 403, refusalReason(action));
      return;
    }
    named.push({ position, name: checked.name, body, decision: null });
  });
  const counts = new Map<string, number>();
  for (const { name } of named) counts.set(name, (counts.get(name) ?? 0) + 1);
  return named.filter((unit) => {
    if (counts.get(unit.name) === 1) return true;
    outcomes[unit.position] = failed(
      unit.name,
      400,
      `unit ${JSON.stringify(unit.name)} appears more than once in the batch`,
    );
    return false;
  });
}

function outcomeOf(ctx: ApiContext, unit: Accepted, result: BatchResult): UnitOutcome {
  if (result.outcome === 'failed') {
    ctx.log.error(
      { err: result.error },
      `Failed writing Unit(${unit.name}) of a batch: ${errorMessage(result.error)}`,
    );
    return failed(unit.name, 500, '');
  }
  const decision = unit.decision;
  if (decision === null) return failed(unit.name, 500, '');
  if ('refused' in decision) {
    return failed(unit.name, decision.refused.status, decision.refused.message);
  }
  // A decision to write whose write did not happen: the unit went away meanwhile.
  if (result.outcome !== 'written') return failed(unit.name, 404, 'unit does not exist');
  return { name: unit.name, status: decision.status };
}

function failed(name: string, status: UnitOutcome['status'], message: string): UnitOutcome {
  return { name, status, error: { code: status, message } };
}

/** The name member of a unit that did not decode, so that its outcome still says which. */
function nameIn(node: JsonNode): string {
  if (node.kind !== 'object') return '';
  const member = [...node.members].reverse().find(([key]) => key.toLowerCase() === 'name');
  return member?.[1].kind === 'string' ? member[1].value : '';
}
