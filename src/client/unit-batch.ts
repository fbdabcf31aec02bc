import type { ApiUnit } from '../api/schema.js';
import { goJsonEncode } from '../go/json-encode.js';
import { GoogleApiError } from './googleapi-error.js';
import { ResponseShapeError } from './response-schemas.js';

/**
 * The batch route's limits (`POST /fleet/ext/v1/batch`, docs/api-v1.md): at most this many
 * units…
 */
export const MAX_BATCH_UNITS = 1000;
/** …in a body of at most 8 MiB, counted as sent. */
export const MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024;

/** The cluster has no batch path (an original fleetd answers its 404): write unit by unit. */
export class BatchNotServedError extends Error {
  override name = 'BatchNotServedError';
  constructor() {
    super('the API does not serve /fleet/ext/v1/batch');
  }
}

/** The body of a batch request: Go's encoding, as every request fleetctl sends. */
export function batchBody(units: readonly ApiUnit[]): string {
  return `${goJsonEncode({ units })}\n`;
}

const BODY_FRAME_BYTES = Buffer.byteLength(batchBody([]));

/**
 * Splits units, in order, into consecutive batches that each stay within both limits. A unit
 * too large for any batch gets one of its own, for the caller to send as a single request.
 */
export function splitBatches<T extends ApiUnit>(units: readonly T[]): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = BODY_FRAME_BYTES;
  for (const unit of units) {
    const size = Buffer.byteLength(goJsonEncode(unit));
    const added = current.length === 0 ? size : size + 1;
    if (
      current.length > 0 &&
      (current.length >= MAX_BATCH_UNITS || bytes + added > MAX_BATCH_BODY_BYTES)
    ) {
      batches.push(current);
      current = [];
      bytes = BODY_FRAME_BYTES;
    }
    bytes += current.length === 0 ? size : size + 1;
    current.push(unit);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Whether a batch of these units is larger than the route takes. */
export function exceedsBatchLimits(units: readonly ApiUnit[]): boolean {
  return (
    units.length > MAX_BATCH_UNITS || Buffer.byteLength(batchBody(units)) > MAX_BATCH_BODY_BYTES
  );
}

/** One unit's result in a batch's answer. */
export interface BatchUnitResult {
  name: string;
  status: number;
  error?: { code: number; message: string };
}

/** Reads `{"results":[{"name","status","error"?}, …]}`, one result per unit sent. */
export function batchResultsSchema(value: unknown, sent: number): BatchUnitResult[] {
  const body = record(value, []);
  const results = body.results;
  if (!Array.isArray(results)) throw new ResponseShapeError(['results'], 'expected array');
  if (results.length !== sent) {
    throw new ResponseShapeError(
      ['results'],
      `expected ${sent} results, received ${results.length}`,
    );
  }
  return results.map((item, index) => {
    const path = ['results', index];
    const result = record(item, path);
    const { name, status, error } = result;
    if (typeof name !== 'string')
      throw new ResponseShapeError([...path, 'name'], 'expected string');
    if (!Number.isInteger(status)) {
      throw new ResponseShapeError([...path, 'status'], 'expected integer');
    }
    if (error === undefined) return { name, status: status as number };
    const entity = record(error, [...path, 'error']);
    const code = entity.code ?? status;
    const message = entity.message ?? '';
    if (!Number.isInteger(code) || typeof message !== 'string') {
      throw new ResponseShapeError([...path, 'error'], 'expected {code, message}');
    }
    return { name, status: status as number, error: { code: code as number, message } };
  });
}

function record(value: unknown, path: ReadonlyArray<string | number>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ResponseShapeError(path, 'expected object');
  }
  return value as Record<string, unknown>;
}

/**
 * A unit's result as the error its own PUT would have thrown (null when it was written): the
 * status and error entity are the PUT's, and so is the body fleetctl quotes when the message
 * is empty.
 */
export function unitResultError(result: BatchUnitResult): GoogleApiError | null {
  if (result.status >= 200 && result.status <= 299) return null;
  const code = result.error?.code ?? result.status;
  const message = result.error?.message ?? '';
  const body = goJsonEncode({ error: { code, message } });
  return new GoogleApiError(result.status, code === 0 ? result.status : code, message, body);
}
