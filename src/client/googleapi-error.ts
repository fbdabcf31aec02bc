import { errorReply } from './response-schemas.js';

/**
 * A non-2xx answer, rendered as fleetctl's generated client (`googleapi.CheckResponse`)
 * rendered it: `googleapi: Error <code>: <message>`, or the raw body when the answer carried
 * no message. The code is the one in the error entity when it has one.
 */
export class GoogleApiError extends Error {
  override name = 'GoogleApiError';

  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The code as the error entity gave it (the status when it gave none). */
    readonly code: number,
    /** The error entity's message; empty when there was none. */
    readonly apiMessage: string,
    readonly body: string,
  ) {
    super(
      apiMessage === ''
        ? `googleapi: got HTTP response code ${code} with body: ${body}`
        : `googleapi: Error ${code}: ${apiMessage}`,
    );
  }
}

export function googleApiError(status: number, body: string): GoogleApiError {
  let reply: ReturnType<typeof errorReply>;
  try {
    reply = errorReply(JSON.parse(body));
  } catch {
    reply = null;
  }
  if (reply === null) return new GoogleApiError(status, status, '', body);
  const code = reply.code === undefined || reply.code === 0 ? status : reply.code;
  return new GoogleApiError(status, code, reply.message ?? '', body);
}
