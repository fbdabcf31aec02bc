import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../../error-message.js';
import { changeLines, snapshotLines } from '../event-lines.js';
import { sendError } from '../respond.js';
import { type ApiContext, requestQuery } from './context.js';

export const EVENTS_CONTENT_TYPE = 'application/x-ndjson';

/** How long a stream may stay silent before a blank line tells proxies and clients it lives. */
export const HEARTBEAT_MS = 15_000;

/**
 * Bytes a client may leave unread before its stream is cut: a client that cannot keep up
 * reconnects from the last revision it read, rather than fleetd holding an ever longer
 * backlog for it.
 */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

/** etcd revisions are positive int64s. */
const MAX_REVISION = 2n ** 63n - 1n;
const BAD_SINCE = 'since must be a revision: a positive decimal integer';

/**
 * `/fleet/ext/v1/events` (ours): the cluster's changes as newline-delimited JSON, streamed
 * until the client hangs up. Without `since`, or with one etcd no longer holds, it starts
 * with a snapshot; with `since`, it carries on after that revision.
 */
export function eventStream(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  heartbeatMs = HEARTBEAT_MS,
): void {
  if (req.method !== 'GET') {
    sendError(res, 405, 'only GET supported against this resource');
    return;
  }
  const since = requestQuery(req).get('since')?.[0] ?? '';
  if (since !== '' && !isRevision(since)) {
    sendError(res, 400, BAD_SINCE);
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', EVENTS_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  // Asks a buffering proxy (nginx) to pass each line on as it comes.
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();

  let wrote = false;
  const send = (lines: readonly string[]) => {
    if (lines.length === 0 || res.destroyed) return;
    res.write(lines.map((line) => `${line}\n`).join(''));
    wrote = true;
    if (res.writableLength > MAX_UNREAD_BYTES) {
      ctx.log.warn(
        { url: req.url, unreadBytes: res.writableLength },
        'Event stream cut: its client reads too slowly and may resume from its last revision',
      );
      res.destroy();
    }
  };
  const heartbeat = setInterval(() => {
    if (!wrote && !res.destroyed) res.write('\n');
    wrote = false;
  }, heartbeatMs);
  const following = ctx.registry.changes.follow(since === '' ? null : since, {
    onSnapshot: (snapshot) => send(snapshotLines(snapshot)),
    onChanges: (batch) => send(changeLines(batch)),
    onError: (err) =>
      ctx.log.warn({ err }, `Event stream waits for the registry: ${errorMessage(err)}`),
  });
  res.once('close', () => {
    clearInterval(heartbeat);
    void following.stop();
  });
}

function isRevision(text: string): boolean {
  return /^[1-9][0-9]{0,18}$/.test(text) && BigInt(text) <= MAX_REVISION;
}
