import { errorReply } from './response-schemas.js';

/** What a client of our extensions gets from a server without them (an original fleetd). */
export const NOT_SERVED = 'not-served';

/**
 * fleet's catch-all answer, `404 {"error":{"code":404,"message":""}}`: the path does not
 * exist on this server. Any other 404 (a unit that does not exist) is an answer of ours.
 */
export function isUnknownPathAnswer(status: number, body: string): boolean {
  if (status !== 404) return false;
  try {
    const reply = errorReply(JSON.parse(body));
    return reply !== null && reply.code === 404 && reply.message === '';
  } catch {
    return false;
  }
}
