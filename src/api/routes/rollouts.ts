import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { errorMessage } from '../../error-message.js';
import { isGlobalUnit } from '../../job/requirements.js';
import { validateUnitOptions } from '../../job/validate-options.js';
import type { StoredUnit } from '../../registry/model.js';
import type { PinWrite, RolloutRecord, StoredRollout } from '../../registry/ports.js';
import { holdsContent } from '../../registry/rollout-ops.js';
import { unitNameInfo, validateSubmittedUnitName } from '../../unit/name.js';
import { UnitFile } from '../../unit/unit-file.js';
import { noteAuditedUnits } from '../access/audit.js';
import { grantsAllow, refusalReason } from '../access/roles.js';
import { readRequestBody } from '../request-body.js';
import { sendError, sendJson } from '../respond.js';
import { ANSWERED, type ApiContext, fromRegistry } from './context.js';

/**
 * The most steps (a unit on a machine) one rollout takes: its record and every pin are
 * written in one etcd transaction, which takes 128 operations.
 */
export const MAX_ROLLOUT_STEPS = 120;
const MAX_PARALLEL = 1000;
const DAY_MS = 86_400_000;

const unitOptionSchema = z.object({ section: z.string(), name: z.string(), value: z.string() });

/** `POST /fleet/ext/v1/rollouts`: the new content of each unit, and how to roll it. */
const startBodySchema = z
  .object({
    units: z
      .array(z.object({ name: z.string(), options: z.array(unitOptionSchema).min(1) }).strict())
      .min(1)
      .max(MAX_ROLLOUT_STEPS),
    maxParallel: z.number().int().min(1).max(MAX_PARALLEL).default(1),
    minHealthyMs: z.number().int().min(0).max(DAY_MS).default(10_000),
    healthyDeadlineMs: z.number().int().min(1).max(DAY_MS).default(120_000),
    autoRevert: z.boolean().default(true),
    canary: z.number().int().min(0).max(MAX_ROLLOUT_STEPS).default(0),
    healthCmd: z.string().min(1).nullable().default(null),
  })
  .strict();
type StartBody = z.infer<typeof startBodySchema>;

/** A refusal: fleet's error body with this status and message. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `/fleet/ext/v1/rollouts`: GET lists every rollout, POST starts one. */
export async function rolloutsCollection(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method === 'GET') {
    const rollouts = await fromRegistry(ctx, res, 'Failed fetching Rollouts', () =>
      ctx.registry.rollouts.list(),
    );
    if (rollouts === ANSWERED) return;
    sendJson(res, 200, { rollouts: rollouts.map(({ record }) => record) });
    return;
  }
  if (req.method !== 'POST') {
    sendError(res, 405, 'only GET and POST supported against this resource');
    return;
  }
  // Outside `answer`: a body too large is the error handler's 413.
  const text = (await readRequestBody(req)).toString('utf8');
  await answer(ctx, res, async () => {
    const body = parseBody(text);
    authorise(
      ctx,
      req,
      res,
      body.units.map((unit) => unit.name),
    );
    return { status: 201, record: await start(ctx, body) };
  });
}

/** `/fleet/ext/v1/rollouts/<id>` (GET) and `/fleet/ext/v1/rollouts/<id>/<resume|abort>` (POST). */
export async function rolloutItem(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
  action: string | null,
): Promise<void> {
  if (action !== null && action !== 'resume' && action !== 'abort') {
    sendError(res, 404);
    return;
  }
  const method = action === null ? 'GET' : 'POST';
  if (req.method !== method) {
    sendError(res, 405, `only ${method} supported against this resource`);
    return;
  }
  await answer(ctx, res, async () => {
    const stored = await ctx.registry.rollouts.get(id);
    if (stored === null) throw new Refusal(404, 'rollout does not exist');
    if (action === null) return { status: 200, record: stored.record };
    authorise(
      ctx,
      req,
      res,
      stored.record.units.map((unit) => unit.name),
    );
    const record = action === 'resume' ? await resume(ctx, stored) : await abort(ctx, stored);
    return { status: 200, record };
  });
}

async function answer(
  ctx: ApiContext,
  res: ServerResponse,
  act: () => Promise<{ status: number; record: RolloutRecord }>,
): Promise<void> {
  try {
    const { status, record } = await act();
    sendJson(res, status, { rollout: record });
  } catch (err) {
    if (err instanceof Refusal) {
      sendError(res, err.status, err.message);
      return;
    }
    ctx.log.error({ err }, `Failed writing a rollout: ${errorMessage(err)}`);
    sendError(res, 500);
  }
}

function parseBody(text: string): StartBody {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Refusal(400, 'unable to decode body: not JSON');
  }
  const parsed = startBodySchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new Refusal(400, `invalid rollout: ${where}${issue?.message ?? ''}`);
}

/** Needs `operate` for every unit (the gate let the caller in with `operate` at least). */
function authorise(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  units: readonly string[],
): void {
  const grants = ctx.grantsOf?.(req);
  const refused = units.find(
    (unit) => grants !== undefined && !grantsAllow(grants, { kind: 'unit-write', unit }),
  );
  noteAuditedUnits(
    res,
    units.map((unit) => ({ unit, status: refused === undefined ? 200 : 403 })),
  );
  if (refused !== undefined) {
    throw new Refusal(403, refusalReason({ kind: 'unit-write', unit: refused }));
  }
}

/**
 * Writes the rollout with a pin holding every machine that runs one of its units to the
 * content it has, then the units' new content: no machine sees it before the engine leader
 * lets it through. A unit replaced meanwhile calls the rollout off.
 */
async function start(ctx: ApiContext, body: StartBody): Promise<RolloutRecord> {
  const names = body.units.map((unit) => unit.name);
  if (new Set(names).size !== names.length) throw new Refusal(400, 'a unit appears twice');
  const held = (await ctx.registry.rollouts.list()).find(
    ({ record }) => holdsContent(record) && record.units.some((unit) => names.includes(unit.name)),
  );
  if (held !== undefined) {
    throw new Refusal(
      409,
      `rollout ${held.record.id} (${held.record.status}) holds one of these units: abort it first`,
    );
  }
  const units = await Promise.all(body.units.map((unit) => checkUnit(ctx, unit)));
  const states = await Promise.all(names.map((name) => ctx.registry.states.forUnit(name)));
  const steps = states
    .flat()
    .map((state) => ({ unit: state.name, machineID: state.machineID, phase: 'waiting' as const }))
    .sort((a, b) => a.machineID.localeCompare(b.machineID) || a.unit.localeCompare(b.unit));
  if (steps.length > MAX_ROLLOUT_STEPS) {
    throw new Refusal(409, `a rollout covers at most ${MAX_ROLLOUT_STEPS} units on machines`);
  }
  const record: RolloutRecord = {
    id: randomBytes(4).toString('hex'),
    createdAt: Date.now(),
    units: units.map(({ stored, unitFile }) => ({
      name: stored.name,
      oldHash: stored.hash,
      newHash: unitFile.hash,
    })),
    maxParallel: body.maxParallel,
    minHealthyMs: body.minHealthyMs,
    healthyDeadlineMs: body.healthyDeadlineMs,
    autoRevert: body.autoRevert,
    canary: body.canary,
    canaryPassed: false,
    healthCmd: body.healthCmd,
    status: 'running',
    steps,
    message: 'Rollout started',
  };
  const oldHashes = new Map(record.units.map((unit) => [unit.name, unit.oldHash]));
  const pins = steps.map((step): PinWrite => ({ ...step, hash: oldHashes.get(step.unit)! }));
  if (!(await ctx.registry.rollouts.create(record, pins))) {
    throw new Refusal(409, 'another rollout holds one of these units on a machine');
  }
  const results = await ctx.registry.units.applyBatch(
    units.map(({ stored, unitFile }) => ({
      name: stored.name,
      decide: (current) =>
        current?.hash === stored.hash
          ? { type: 'put', unitFile, desiredState: current.desiredState }
          : null,
    })),
  );
  const missed = results.findIndex((result) => result.outcome !== 'written');
  if (missed >= 0) {
    await callOff(ctx, record, `unit ${names[missed]} changed while the rollout started`);
    throw new Refusal(409, `unit ${names[missed]} changed while the rollout started`);
  }
  return record;
}

/** A unit a rollout may replace, and its new content; refuses any other. */
async function checkUnit(
  ctx: ApiContext,
  unit: StartBody['units'][number],
): Promise<{ stored: StoredUnit; unitFile: UnitFile }> {
  const invalidName = validateSubmittedUnitName(unit.name);
  if (invalidName !== null) throw new Refusal(400, invalidName);
  const invalidOptions = validateUnitOptions(unit.options);
  if (invalidOptions !== null) throw new Refusal(400, invalidOptions);
  const stored = await ctx.registry.units.get(unit.name);
  if (stored === null) throw new Refusal(404, `unit ${unit.name} does not exist`);
  const unitFile = new UnitFile(unit.options);
  if (!stored.global && unitNameInfo(unit.name)?.isInstance !== true) {
    throw new Refusal(409, `unit ${unit.name} is neither global nor an instance of a template`);
  }
  // Health is being active: a unit meant to be loaded only would never be healthy.
  if (stored.desiredState !== 'launched') {
    throw new Refusal(409, `unit ${unit.name} is not launched: only running units are rolled`);
  }
  if (isGlobalUnit(unitFile) !== stored.global) {
    throw new Refusal(409, `the new content of unit ${unit.name} must keep its Global option`);
  }
  if (unitFile.hash === stored.hash) {
    throw new Refusal(409, `unit ${unit.name} already has this content`);
  }
  return { stored, unitFile };
}

/** Ends a rollout that never got going: its pins go, the units keep their content. */
async function callOff(ctx: ApiContext, record: RolloutRecord, message: string): Promise<void> {
  const stored = await ctx.registry.rollouts.get(record.id);
  if (stored === null) return;
  const ended: RolloutRecord = { ...stored.record, status: 'aborted', message };
  await ctx.registry.rollouts.update(stored.modRevision, ended, releaseAll(ended), null);
}

function releaseAll(record: RolloutRecord): PinWrite[] {
  return record.steps.map((step) => ({ machineID: step.machineID, unit: step.unit, hash: null }));
}

async function resume(ctx: ApiContext, stored: StoredRollout): Promise<RolloutRecord> {
  const { record, modRevision } = stored;
  if (record.status !== 'paused') {
    throw new Refusal(409, `rollout ${record.id} is ${record.status}, not paused`);
  }
  const resumed: RolloutRecord = {
    ...record,
    status: 'running',
    canaryPassed: true,
    message: 'Rollout resumed',
  };
  if (!(await ctx.registry.rollouts.update(modRevision, resumed, [], null))) {
    throw new Refusal(409, `rollout ${record.id} changed meanwhile: try again`);
  }
  return resumed;
}

/**
 * Puts every unit back to its previous content, then ends the rollout and releases its
 * pins. Should fleetd stop in between, the engine leader finds the units replaced and
 * releases the pins itself.
 */
async function abort(ctx: ApiContext, stored: StoredRollout): Promise<RolloutRecord> {
  const { record } = stored;
  if (!holdsContent(record)) {
    throw new Refusal(409, `rollout ${record.id} is ${record.status}`);
  }
  const results = await ctx.registry.units.applyBatch(
    await Promise.all(
      record.units.map(async ({ name, oldHash, newHash }) => {
        const previous = await ctx.registry.bodies.get(oldHash);
        return {
          name,
          decide: (current: { hash: string; desiredState: StoredUnit['desiredState'] } | null) =>
            current?.hash === newHash
              ? { type: 'put' as const, unitFile: previous, desiredState: current.desiredState }
              : null,
        };
      }),
    ),
  );
  const failed = results.find((result) => result.outcome === 'failed');
  if (failed !== undefined && failed.outcome === 'failed') throw failed.error;
  ctx.registry.unitFileCollector.sweepSoon();
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const current = await ctx.registry.rollouts.get(record.id);
    if (current === null) throw new Refusal(404, 'rollout does not exist');
    const aborted: RolloutRecord = {
      ...current.record,
      status: 'aborted',
      message: 'Rollout aborted: every machine runs the previous content',
      steps: current.record.steps.map((step) =>
        step.phase === 'waiting' || step.phase === 'lost' ? step : { ...step, phase: 'reverted' },
      ),
    };
    const pins = releaseAll(aborted);
    if (await ctx.registry.rollouts.update(current.modRevision, aborted, pins, null)) {
      return aborted;
    }
  }
  throw new Refusal(409, `rollout ${record.id} changed meanwhile: try again`);
}
