// Talking to a machine's fleet API from the host, in-process: over the machine's unix socket
// as /proc/<pid>/root shows it (the host has no route to the machines' addresses).
import { request } from 'node:http';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../src/api/schema.js';
import { createHttpClient } from '../src/client/http-client.js';
import type { FleetClient } from '../src/client/types.js';
import { apiEndpoint, apiSocketPath } from './fleet-units.js';

export interface ApiResponse {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** The API answered, but not with 2xx. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly response: ApiResponse,
    what: string,
  ) {
    super(`${what}: HTTP ${response.status} ${response.body.trim().slice(0, 500)}`);
  }

  /** The message of fleet's error entity, if the body is one. */
  get apiMessage(): string | undefined {
    try {
      return (JSON.parse(this.response.body) as { error?: { message?: string } }).error?.message;
    } catch {
      return undefined;
    }
  }
}

/**
 * One HTTP request to the API of the machine whose PID 1 is `pid`. No keep-alive: nothing stays
 * open, and a request never waits on a connection to a fleetd that has gone.
 */
export function apiRequest(
  pid: number,
  method: string,
  path: string,
  opts: { body?: string; timeoutMs?: number } = {},
): Promise<ApiResponse> {
  const payload = opts.body === undefined ? undefined : Buffer.from(opts.body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: apiSocketPath(pid),
        method,
        path,
        agent: false,
        headers: {
          Host: 'domain-sock',
          ...(payload !== undefined && {
            'Content-Type': 'application/json',
            'Content-Length': String(payload.length),
          }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () =>
      req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 10_000} ms`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

type Collection = 'machines' | 'units' | 'state';

/** Every page of a collection (`GET /fleet/v1/<collection>`), following nextPageToken. */
export async function listAll<T>(pid: number, collection: Collection): Promise<T[]> {
  const key = collection === 'state' ? 'states' : collection;
  const all: T[] = [];
  let token: string | undefined;
  do {
    const query = token === undefined ? '' : `?nextPageToken=${encodeURIComponent(token)}`;
    const path = `/fleet/v1/${collection}${query}`;
    const res = await apiRequest(pid, 'GET', path);
    if (res.status !== 200) throw new ApiError(res, `GET ${path}`);
    const page = JSON.parse(res.body) as Record<string, unknown> & { nextPageToken?: string };
    all.push(...((page[key] as T[] | undefined) ?? []));
    token = page.nextPageToken === '' ? undefined : page.nextPageToken;
  } while (token !== undefined);
  return all;
}

export const listMachines = (pid: number) => listAll<ApiMachine>(pid, 'machines');
export const listUnits = (pid: number) => listAll<ApiUnit>(pid, 'units');
export const listUnitStates = (pid: number) => listAll<ApiUnitState>(pid, 'state');

/** The product's own API client (the one fleetctl uses) for the machine whose PID 1 is `pid`. */
export function fleetClient(pid: number, requestTimeoutMs = 15_000): FleetClient {
  return createHttpClient({ endpoint: apiEndpoint(pid), requestTimeoutMs });
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `probe` until `done` holds; a probe that throws counts as "not yet" (fleetd restarting,
 * 503 while it registers). On timeout, throws with the last value or error.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await probe();
      last = { value };
      if (done(value)) return value;
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
  const detail =
    last === undefined
      ? 'never probed'
      : 'value' in last
        ? `last: ${JSON.stringify(last.value)?.slice(0, 2000)}`
        : `last error: ${String((last.error as Error)?.message ?? last.error)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${detail}`);
}
