import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorMessage } from '../../error-message.js';
import { parseGoQuery } from '../../go/url.js';
import type { RegistrySeam } from '../../registry/ports.js';
import type { Grant } from '../access/roles.js';
import { hangUpSignal } from '../client-gone.js';
import { type PageToken, PageTokenError, pageTokenFromQuery } from '../page-token.js';
import { sendError } from '../respond.js';

/** What every resource handler works with. */
export interface ApiContext {
  registry: RegistrySeam;
  /** Page size of every list, and the only limit a page token may carry. */
  tokenLimit: number;
  /**
   * What the access gate lets the request's caller do; absent without access control, when
   * every caller may do everything.
   */
  grantsOf?: (req: IncomingMessage) => readonly Grant[] | undefined;
  log: Logger;
}

/** The request's query as Go's `r.URL.Query()` read it. */
export function requestQuery(req: IncomingMessage): Map<string, string[]> {
  const url = req.url ?? '';
  const question = url.indexOf('?');
  return parseGoQuery(question < 0 ? '' : url.slice(question + 1));
}

/** The list request's page token, or null after answering 400 with fleet's message. */
export function requestPageToken(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): PageToken | null {
  try {
    return pageTokenFromQuery(requestQuery(req).get('nextPageToken') ?? [], ctx.tokenLimit);
  } catch (err) {
    if (!(err instanceof PageTokenError)) throw err;
    sendError(res, 400, err.message);
    return null;
  }
}

/** What a registry call returns when it failed and the request has been answered already. */
export const ANSWERED = Symbol('answered with 500');

/**
 * Runs one registry call for a request. On failure it logs `<failure>: <error>` and answers
 * 500 with fleet's empty message (the detail stays in the log, as in fleet). A write called
 * off because the client hung up is logged as dropped, and answers no one.
 */
export async function fromRegistry<T>(
  ctx: ApiContext,
  res: ServerResponse,
  failure: string,
  call: () => Promise<T>,
): Promise<T | typeof ANSWERED> {
  try {
    return await call();
  } catch (err) {
    if (logIfDropped(ctx, res)) return ANSWERED;
    ctx.log.error({ err }, `${failure}: ${errorMessage(err)}`);
    sendError(res, 500);
    return ANSWERED;
  }
}

/**
 * Whether the request's write was called off because its client hung up, in which case
 * whatever the call threw (the reason, or a retry's failure) is logged as dropped: no one is
 * left to answer.
 */
export function logIfDropped(ctx: ApiContext, res: ServerResponse): boolean {
  if (hangUpSignal(res)?.aborted !== true) return false;
  const { method, url } = res.req;
  ctx.log.info({ method, url }, `Dropped ${method} ${url}: its client went away first`);
  return true;
}
