import type { ApiMachine, ApiUnit, ApiUnitState } from '../api/schema.js';
import { goJsonEncode } from '../go/json-encode.js';
import { readFirstJsonValue } from '../go/json-value.js';
import { type ApiEndpoint, escapePathParameter, parseEndpoint } from './endpoint.js';
import { type EventStreamEnd, followEventStream } from './event-stream.js';
import { GoogleApiError, googleApiError } from './googleapi-error.js';
import { httpMachineCordons, type MachineCordonsClient } from './machine-cordons.js';
import { isUnknownPathAnswer } from './not-served.js';
import {
  machinePageSchema,
  type ResponsePage,
  type ResponseSchema,
  ResponseShapeError,
  unitPageSchema,
  unitSchema,
  unitStatePageSchema,
  unitStateSchema,
} from './response-schemas.js';
import { httpRollouts, type RolloutsClient } from './rollouts.js';
import { type ConnectionFactory, type TlsFiles, Transport } from './transport.js';
import type { FleetClient } from './types.js';
import {
  BatchNotServedError,
  batchBody,
  batchResultsSchema,
  unitResultError,
} from './unit-batch.js';
import {
  runUnitOutput,
  type UnitOutputRequest,
  type UnitOutputResult,
  type UnitOutputSink,
} from './unit-output.js';

export interface HttpClientOptions extends TlsFiles {
  /** fleetctl's `--endpoint`: `http://…`, `https://…`, `unix:///path` or `file:///path`. */
  endpoint: string;
  /** Per request; fleetctl's API client had none, so by default there is none. */
  requestTimeoutMs?: number;
  /** Carries every request over this stream instead of dialling (fleetctl's `--tunnel`). */
  createConnection?: ConnectionFactory;
  /** Sent as `Authorization: Bearer <token>` with every request (fleetctl's token file). */
  token?: string;
}

/** An answer the client cannot read: not JSON, or not the entity it should be. */
export class ResponseDecodeError extends Error {
  override name = 'ResponseDecodeError';
}

/**
 * fleetctl's API driver: the generated Google API client over HTTP/1.1, every query with
 * `alt=json`, lists followed page by page until no `nextPageToken` remains, and a 404 on a
 * single unit or state meaning "none". Throws EndpointError for a bad endpoint, with
 * fleetctl's message.
 */
export function createHttpClient(options: HttpClientOptions): FleetClient {
  const endpoint = parseEndpoint(options.endpoint);
  const transport = new Transport(
    endpoint,
    options,
    options.requestTimeoutMs,
    options.createConnection,
    options.token,
  );
  return new HttpFleetClient(endpoint, transport);
}

class HttpFleetClient implements FleetClient {
  readonly cordons: MachineCordonsClient;
  readonly rollouts: RolloutsClient;
  /** Cleared by the original's 404 to a batch: this client then never asks again. */
  private batchServed = true;

  constructor(
    private readonly endpoint: ApiEndpoint,
    private readonly transport: Transport,
  ) {
    this.cordons = httpMachineCordons(transport, endpoint);
    this.rollouts = httpRollouts(transport, endpoint);
  }

  async machines(): Promise<ApiMachine[]> {
    return this.allPages('machines', machinePageSchema);
  }

  async units(): Promise<ApiUnit[]> {
    return this.allPages('units', unitPageSchema);
  }

  async unitStates(): Promise<ApiUnitState[]> {
    return this.allPages('state', unitStatePageSchema);
  }

  async unit(name: string): Promise<ApiUnit | null> {
    return this.getOrNull(`units/${escapePathParameter(name)}`, unitSchema);
  }

  async unitState(name: string): Promise<ApiUnitState | null> {
    return this.getOrNull(`state/${escapePathParameter(name)}`, unitStateSchema);
  }

  async createUnit(unit: ApiUnit): Promise<void> {
    await this.call('PUT', `units/${escapePathParameter(unit.name)}`, unit);
  }

  async setUnitTargetState(name: string, desiredState: string): Promise<void> {
    await this.call('PUT', `units/${escapePathParameter(name)}`, { desiredState, name });
  }

  async destroyUnit(name: string): Promise<void> {
    await this.call('DELETE', `units/${escapePathParameter(name)}`);
  }

  /** `POST /fleet/ext/v1/batch`, next to the API root (docs/api-v1.md). */
  async writeUnits(units: readonly ApiUnit[]): Promise<Array<Error | null>> {
    if (!this.batchServed) throw new BatchNotServedError();
    const url = this.endpoint.baseUrl.replace(/fleet\/v1\/$/, 'fleet/ext/v1/batch');
    const response = await this.transport.send('POST', url, batchBody(units));
    if (isUnknownPathAnswer(response.status, response.body)) {
      this.batchServed = false;
      throw new BatchNotServedError();
    }
    if (response.status < 200 || response.status > 299) {
      throw googleApiError(response.status, response.body);
    }
    const results = decode((value) => batchResultsSchema(value, units.length), response.body);
    return results.map(unitResultError);
  }

  unitOutput(
    request: UnitOutputRequest,
    sink: UnitOutputSink,
    signal?: AbortSignal,
  ): Promise<UnitOutputResult> {
    return runUnitOutput(this.transport, this.endpoint, request, sink, signal);
  }

  followEvents(
    since: string | null,
    onLine: (line: string) => void,
    signal?: AbortSignal,
  ): Promise<EventStreamEnd> {
    return followEventStream(this.transport, this.endpoint, since, onLine, signal);
  }

  async close(): Promise<void> {
    this.transport.close();
  }

  private async allPages<Item>(
    resource: string,
    schema: ResponseSchema<ResponsePage<Item>>,
  ): Promise<Item[]> {
    const all: Item[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = token === undefined ? {} : { nextPageToken: token };
      const page = decode(schema, await this.call('GET', resource, undefined, query));
      all.push(...(page.items ?? []));
      token = page.nextPageToken === '' ? undefined : page.nextPageToken;
    } while (token !== undefined);
    return all;
  }

  private async getOrNull<T>(resource: string, schema: ResponseSchema<T>): Promise<T | null> {
    try {
      return decode(schema, await this.call('GET', resource));
    } catch (err) {
      if (err instanceof GoogleApiError && err.code === 404) return null;
      throw err;
    }
  }

  /** One request; a non-2xx answer becomes a GoogleApiError. Returns the body. */
  private async call(
    method: string,
    resource: string,
    body?: object,
    query: Readonly<Record<string, string>> = {},
  ): Promise<string> {
    const params = new URLSearchParams({ alt: 'json', ...query });
    params.sort();
    const url = `${this.endpoint.baseUrl}${resource}?${params.toString()}`;
    const response = await this.transport.send(
      method,
      url,
      // Go's encoder: its field order and escaping, and a trailing newline.
      body === undefined ? undefined : `${goJsonEncode(body)}\n`,
    );
    if (response.status < 200 || response.status > 299) {
      throw googleApiError(response.status, response.body);
    }
    return response.body;
  }
}

function decode<T>(schema: ResponseSchema<T>, body: string): T {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    const first = readFirstJsonValue(Buffer.from(body, 'utf8'));
    throw new ResponseDecodeError(first.ok ? 'invalid JSON in response' : first.message);
  }
  try {
    return schema(json);
  } catch (err) {
    if (!(err instanceof ResponseShapeError)) throw err;
    throw new ResponseDecodeError(`unexpected response: ${err.message}`);
  }
}
