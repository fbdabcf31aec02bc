import { z } from 'zod';
import type { ApiEndpoint } from './endpoint.js';
import { escapePathParameter } from './endpoint.js';
import { googleApiError } from './googleapi-error.js';
import { isUnknownPathAnswer, NOT_SERVED } from './not-served.js';
import type { Transport } from './transport.js';

const drainSchema = z.object({
  maxParallel: z.number(),
  moving: z.array(z.string()),
  moved: z.array(z.string()),
  stayed: z.array(z.object({ name: z.string(), reason: z.string() })),
  done: z.boolean(),
});

/** One machine of `GET /fleet/ext/v1/machines`: as `/fleet/v1/machines` shows it, and more. */
const cordonStateSchema = z.object({
  id: z.string(),
  primaryIP: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  /** Registered now; a cordoned machine that left is listed too. */
  present: z.boolean(),
  cordoned: z.boolean(),
  drain: drainSchema.nullable(),
});
export type MachineCordonState = z.infer<typeof cordonStateSchema>;
export type DrainState = z.infer<typeof drainSchema>;

const cordonListSchema = z.object({ machines: z.array(cordonStateSchema) });

/**
 * Ours: cordons and drains over `/fleet/ext/v1/machines` (docs/api-v1.md). Each call
 * resolves `NOT_SERVED` against a server without them; a refusal throws a GoogleApiError.
 */
export interface MachineCordonsClient {
  list(): Promise<MachineCordonState[] | typeof NOT_SERVED>;
  cordon(machineID: string): Promise<'done' | typeof NOT_SERVED>;
  /** False when the machine was not cordoned. */
  uncordon(machineID: string): Promise<boolean | typeof NOT_SERVED>;
  drain(machineID: string, maxParallel: number): Promise<'done' | typeof NOT_SERVED>;
}

export class ResponseShapeMismatch extends Error {
  override name = 'ResponseShapeMismatch';
}

export function httpMachineCordons(
  transport: Transport,
  endpoint: ApiEndpoint,
): MachineCordonsClient {
  const base = endpoint.baseUrl.replace(/fleet\/v1\/$/, 'fleet/ext/v1/machines');
  const item = (machineID: string, action: string) =>
    `${base}/${escapePathParameter(machineID)}/${action}`;
  const call = async (method: string, url: string, body?: string) => {
    const response = await transport.send(method, url, body);
    if (isUnknownPathAnswer(response.status, response.body)) return NOT_SERVED;
    return response;
  };
  return {
    async list() {
      const response = await call('GET', base);
      if (response === NOT_SERVED) return NOT_SERVED;
      if (response.status !== 200) throw googleApiError(response.status, response.body);
      const parsed = cordonListSchema.safeParse(JSON.parse(response.body));
      if (!parsed.success) {
        throw new ResponseShapeMismatch(`unexpected response: ${parsed.error.issues[0]?.message}`);
      }
      return parsed.data.machines;
    },
    async cordon(machineID) {
      const response = await call('PUT', item(machineID, 'cordon'));
      if (response === NOT_SERVED) return NOT_SERVED;
      if (response.status !== 204) throw googleApiError(response.status, response.body);
      return 'done';
    },
    async uncordon(machineID) {
      const response = await call('DELETE', item(machineID, 'cordon'));
      if (response === NOT_SERVED) return NOT_SERVED;
      if (response.status === 404) return false;
      if (response.status !== 204) throw googleApiError(response.status, response.body);
      return true;
    },
    async drain(machineID, maxParallel) {
      const body = JSON.stringify({ maxParallel });
      const response = await call('POST', item(machineID, 'drain'), body);
      if (response === NOT_SERVED) return NOT_SERVED;
      if (response.status !== 204) throw googleApiError(response.status, response.body);
      return 'done';
    },
  };
}
