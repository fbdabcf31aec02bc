import type { ApiMachine, ApiUnit, ApiUnitOption, ApiUnitState } from '../api/schema.js';

/**
 * The API's answers as fleetctl reads them. Every field is `omitempty` on the wire, so an
 * absent string is an empty one; unknown members are ignored, as Go's decoder ignored them.
 * Hand-written rather than a schema library: fleetctl loads and runs them on every command,
 * and they are on the path of every unit of a large `start`.
 */

/** Where an answer does not have the expected shape, and how. */
export class ResponseShapeError extends Error {
  override name = 'ResponseShapeError';

  constructor(
    readonly path: ReadonlyArray<string | number>,
    readonly problem: string,
  ) {
    super(`${path.join('.') || 'body'}: ${problem}`);
  }
}

/** Reads a decoded JSON value at `path` as a T, or throws a ResponseShapeError. */
export type ResponseSchema<T> = (value: unknown, path?: ReadonlyArray<string | number>) => T;

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function expected(what: string, value: unknown, path: ReadonlyArray<string | number>): never {
  throw new ResponseShapeError(path, `expected ${what}, received ${kindOf(value)}`);
}

function object(value: unknown, path: ReadonlyArray<string | number>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    expected('object', value, path);
  }
  return value as Record<string, unknown>;
}

/** An optional string member: absent is undefined, anything but a string is refused. */
function text(
  record: Record<string, unknown>,
  key: string,
  path: ReadonlyArray<string | number>,
): string | undefined {
  const value = record[key];
  if (value === undefined || typeof value === 'string') return value;
  return expected('string', value, [...path, key]);
}

/** An optional array member, each element read by `item`. */
function list<T>(
  record: Record<string, unknown>,
  key: string,
  path: ReadonlyArray<string | number>,
  item: ResponseSchema<T>,
): T[] | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return expected('array', value, [...path, key]);
  return value.map((element, index) => item(element, [...path, key, index]));
}

const unitOptionSchema: ResponseSchema<ApiUnitOption> = (value, path = []) => {
  const option = object(value, path);
  return {
    name: text(option, 'name', path) ?? '',
    section: text(option, 'section', path) ?? '',
    value: text(option, 'value', path) ?? '',
  };
};

export const unitSchema: ResponseSchema<ApiUnit> = (value, path = []) => {
  const unit = object(value, path);
  const currentState = text(unit, 'currentState', path);
  const desiredState = text(unit, 'desiredState', path);
  const machineID = text(unit, 'machineID', path);
  const name = text(unit, 'name', path) ?? '';
  const options = list(unit, 'options', path, unitOptionSchema);
  return {
    ...(currentState !== undefined && { currentState }),
    ...(desiredState !== undefined && { desiredState }),
    ...(machineID !== undefined && { machineID }),
    name,
    ...(options !== undefined && { options }),
  };
};

export const unitStateSchema: ResponseSchema<ApiUnitState> = (value, path = []) => {
  const state = object(value, path);
  const hash = text(state, 'hash', path);
  const machineID = text(state, 'machineID', path);
  const name = text(state, 'name', path) ?? '';
  const systemdActiveState = text(state, 'systemdActiveState', path);
  const systemdLoadState = text(state, 'systemdLoadState', path);
  const systemdSubState = text(state, 'systemdSubState', path);
  return {
    ...(hash !== undefined && { hash }),
    ...(machineID !== undefined && { machineID }),
    name,
    ...(systemdActiveState !== undefined && { systemdActiveState }),
    ...(systemdLoadState !== undefined && { systemdLoadState }),
    ...(systemdSubState !== undefined && { systemdSubState }),
  };
};

const machineSchema: ResponseSchema<ApiMachine> = (value, path = []) => {
  const machine = object(value, path);
  const id = text(machine, 'id', path) ?? '';
  let metadata: Record<string, string> | undefined;
  if (machine.metadata !== undefined) {
    const entries = object(machine.metadata, [...path, 'metadata']);
    metadata = {};
    for (const key of Object.keys(entries)) {
      metadata[key] = text(entries, key, [...path, 'metadata']) as string;
    }
  }
  const primaryIP = text(machine, 'primaryIP', path);
  return {
    id,
    ...(metadata !== undefined && { metadata }),
    ...(primaryIP !== undefined && { primaryIP }),
  };
};

/** One page of a list: its items and the token of the next page. */
export interface ResponsePage<T> {
  items: T[] | undefined;
  nextPageToken: string | undefined;
}

function pageSchema<T>(key: string, item: ResponseSchema<T>): ResponseSchema<ResponsePage<T>> {
  return (value, path = []) => {
    const page = object(value, path);
    return {
      items: list(page, key, path, item),
      nextPageToken: text(page, 'nextPageToken', path),
    };
  };
}

export const unitPageSchema = pageSchema('units', unitSchema);
export const unitStatePageSchema = pageSchema('states', unitStateSchema);
export const machinePageSchema = pageSchema('machines', machineSchema);

/** fleet's error entity, `{"error":{"code":N,"message":"…"}}`; null when it is not one. */
export function errorReply(value: unknown): { code?: number; message?: string } | null {
  try {
    const reply = object(value, []);
    const error = object(reply.error, ['error']);
    const code = error.code;
    if (code !== undefined && !Number.isInteger(code)) return null;
    const message = text(error, 'message', ['error']);
    return {
      ...(code !== undefined && { code: code as number }),
      ...(message !== undefined && { message }),
    };
  } catch {
    return null;
  }
}
