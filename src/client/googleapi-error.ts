import { z } from 'zod';

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

const errorReplySchema = z.object({
  error: z.object({
    code: z.number().int().optional(),
    message: z.string().optional(),
  }),
});

export function googleApiError(status: number, body: string): GoogleApiError {
  let reply: z.infer<typeof errorReplySchema> | undefined;
  try {
    const parsed = errorReplySchema.safeParse(JSON.parse(body));
    reply = parsed.success ? parsed.data : undefined;
  } catch {
    reply = undefined;
  }
  if (reply === undefined) return new GoogleApiError(status, status, '', body);
  const code = reply.error.code === undefined || reply.error.code === 0 ? status : reply.error.code;
  return new GoogleApiError(status, code, reply.error.message ?? '', body);
}
