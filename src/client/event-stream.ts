import type { IncomingMessage } from 'node:http';
import { errorMessage } from '../error-message.js';
import type { ApiEndpoint } from './endpoint.js';
import { googleApiError } from './googleapi-error.js';
import { isUnknownPathAnswer } from './not-served.js';
import type { Transport } from './transport.js';

/**
 * How following the event stream (docs/api-v1.md, "Event stream") ended: the server ended
 * it, or it answered the original fleet's 404 for a path it does not know.
 */
export type EventStreamEnd = 'ended' | 'not-served';

/** The stream broke before the server ended it: the connection dropped. */
export class EventStreamCutError extends Error {
  override name = 'EventStreamCutError';
}

/** `/fleet/ext/v1/events`, next to the API root, after `since` when given. */
export function eventsUrl(endpoint: ApiEndpoint, since: string | null): string {
  const base = endpoint.baseUrl.replace(/fleet\/v1\/$/, 'fleet/ext/v1/');
  return `${base}events${since === null ? '' : `?since=${encodeURIComponent(since)}`}`;
}

/**
 * Follows the event stream, handing `onLine` each line as received (blank ones, the
 * heartbeats, left out). Throws a GoogleApiError for a refusal, a TransportError when there
 * is no answer, an EventStreamCutError when the stream breaks; aborting `signal` hangs up.
 */
export async function followEventStream(
  transport: Transport,
  endpoint: ApiEndpoint,
  since: string | null,
  onLine: (line: string) => void,
  signal: AbortSignal = new AbortController().signal,
): Promise<EventStreamEnd> {
  const response = await transport.stream(eventsUrl(endpoint, since), signal);
  if (response.status !== 200) {
    const body = await readAll(response.body);
    if (isUnknownPathAnswer(response.status, body)) return 'not-served';
    throw googleApiError(response.status, body);
  }
  try {
    await forEachLine(response.body, onLine);
    return 'ended';
  } catch (err) {
    throw new EventStreamCutError(errorMessage(response.describe(err as Error)));
  }
}

async function readAll(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Each complete line of the body; a last line without its newline was cut short. */
async function forEachLine(body: IncomingMessage, onLine: (line: string) => void): Promise<void> {
  let pending = Buffer.alloc(0);
  for await (const chunk of body) {
    pending = Buffer.concat([pending, chunk as Buffer]);
    for (let newline = pending.indexOf(0x0a); newline >= 0; newline = pending.indexOf(0x0a)) {
      const line = pending.subarray(0, newline).toString('utf8');
      pending = pending.subarray(newline + 1);
      if (line.trim() !== '') onLine(line);
    }
  }
  if (pending.length > 0) throw new Error('unexpected EOF');
}
