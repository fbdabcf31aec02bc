import { z } from 'zod';
import type { UnitOption } from '../unit/deserialize.js';
import type { ApiEndpoint } from './endpoint.js';
import { escapePathParameter } from './endpoint.js';
import { googleApiError } from './googleapi-error.js';
import { ResponseShapeMismatch } from './machine-cordons.js';
import { isUnknownPathAnswer, NOT_SERVED } from './not-served.js';
import type { Transport } from './transport.js';

const stepSchema = z.object({
  unit: z.string(),
  machineID: z.string(),
  phase: z.string(),
  reason: z.string().optional(),
});

/** A rollout as `/fleet/ext/v1/rollouts` shows it (docs/api-v1.md). */
const rolloutSchema = z.object({
  id: z.string(),
  units: z.array(z.object({ name: z.string(), oldHash: z.string(), newHash: z.string() })),
  maxParallel: z.number(),
  canary: z.number(),
  status: z.enum(['running', 'paused', 'completed', 'failed', 'aborted']),
  steps: z.array(stepSchema),
  message: z.string(),
});
export type RolloutState = z.infer<typeof rolloutSchema>;
export type RolloutStepState = z.infer<typeof stepSchema>;

const oneSchema = z.object({ rollout: rolloutSchema });
const listSchema = z.object({ rollouts: z.array(rolloutSchema) });

/** What `POST /fleet/ext/v1/rollouts` takes: durations in milliseconds. */
export interface RolloutRequest {
  units: Array<{ name: string; options: readonly UnitOption[] }>;
  maxParallel: number;
  minHealthyMs: number;
  healthyDeadlineMs: number;
  autoRevert: boolean;
  canary: number;
  healthCmd: string | null;
}

/**
 * Ours: rolling updates over `/fleet/ext/v1/rollouts`. Each call resolves `NOT_SERVED`
 * against a server without them; a refusal throws a GoogleApiError.
 */
export interface RolloutsClient {
  start(request: RolloutRequest): Promise<RolloutState | typeof NOT_SERVED>;
  list(): Promise<RolloutState[] | typeof NOT_SERVED>;
  get(id: string): Promise<RolloutState | typeof NOT_SERVED>;
  resume(id: string): Promise<RolloutState | typeof NOT_SERVED>;
  abort(id: string): Promise<RolloutState | typeof NOT_SERVED>;
}

export function httpRollouts(transport: Transport, endpoint: ApiEndpoint): RolloutsClient {
  const base = endpoint.baseUrl.replace(/fleet\/v1\/$/, 'fleet/ext/v1/rollouts');
  const call = async <T>(
    method: string,
    url: string,
    schema: z.ZodType<T>,
    body?: string,
  ): Promise<T | typeof NOT_SERVED> => {
    const response = await transport.send(method, url, body);
    if (isUnknownPathAnswer(response.status, response.body)) return NOT_SERVED;
    if (response.status < 200 || response.status > 299) {
      throw googleApiError(response.status, response.body);
    }
    const parsed = schema.safeParse(JSON.parse(response.body));
    if (!parsed.success) {
      throw new ResponseShapeMismatch(`unexpected response: ${parsed.error.issues[0]?.message}`);
    }
    return parsed.data;
  };
  const item = (id: string, action?: string) =>
    `${base}/${escapePathParameter(id)}${action === undefined ? '' : `/${action}`}`;
  const rollout = async (method: string, url: string, body?: string) => {
    const reply = await call(method, url, oneSchema, body);
    return reply === NOT_SERVED ? NOT_SERVED : reply.rollout;
  };
  return {
    start: (request) => rollout('POST', base, JSON.stringify(request)),
    async list() {
      const reply = await call('GET', base, listSchema);
      return reply === NOT_SERVED ? NOT_SERVED : reply.rollouts;
    },
    get: (id) => rollout('GET', item(id)),
    resume: (id) => rollout('POST', item(id, 'resume')),
    abort: (id) => rollout('POST', item(id, 'abort')),
  };
}
