import { setTimeout as sleep } from 'node:timers/promises';
import { EventStreamPosition } from '../../client/event-position.js';
import { EventStreamCutError } from '../../client/event-stream.js';
import { GoogleApiError } from '../../client/googleapi-error.js';
import { TransportError } from '../../client/transport.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';

/** Reconnections in a row without a line in between; the waits add up to about 20 s. */
const RECONNECT_ATTEMPTS = 8;
const FIRST_WAIT_MS = 250;
const LONGEST_WAIT_MS = 5_000;

const SINCE = /^[1-9][0-9]*$/;

/**
 * `fleetctl events [--since=REVISION]` (ours): prints the cluster's event stream as it
 * comes, one JSON line per change. A dropped connection (fleetd restarting, say) is resumed
 * after the last revision seen, a few times with growing waits; the command ends with the
 * stream: 0 when the server ended it, 1 on errors (at once when the first connection fails).
 */
export const run: CommandRun = async (context) => {
  const since = context.flags.string('since');
  if (since !== '' && !SINCE.test(since)) {
    context.stderr.write(`Invalid --since ${since}: a revision is a positive decimal integer\n`);
    return 1;
  }
  const follow = context.client.followEvents?.bind(context.client);
  if (follow === undefined) {
    context.stderr.write('The event stream needs the API driver (--driver=API)\n');
    return 1;
  }
  const position = new EventStreamPosition(since === '' ? null : since);
  // Only a stream that was once there is waited for: a server that never answered is an error.
  let connected = false;
  let failures = 0;
  for (;;) {
    let printed = false;
    try {
      const end = await follow(position.since, (line) => {
        connected = true;
        if (!position.accept(line)) return;
        context.stdout.write(`${line}\n`);
        printed = true;
      });
      if (end === 'not-served') {
        context.stderr.write('Event streams are not supported by this server\n');
        return 1;
      }
      return 0;
    } catch (err) {
      if (printed) failures = 0;
      if (err instanceof EventStreamCutError) connected = true;
      if (!connected || !canResume(err) || failures >= RECONNECT_ATTEMPTS) {
        context.stderr.write(`Error following the event stream: ${errorMessage(err)}\n`);
        return 1;
      }
      const waitMs = Math.min(FIRST_WAIT_MS * 2 ** failures, LONGEST_WAIT_MS);
      failures++;
      context.log.debug(
        'events.ts',
        `event stream lost (${errorMessage(err)}); resuming after ${position.since ?? 'a snapshot'} in ${waitMs} ms`,
      );
      await sleep(waitMs);
    }
  }
};

/** A dropped connection, no answer, or a fleetd not yet registered (503). */
function canResume(err: unknown): boolean {
  return (
    err instanceof EventStreamCutError ||
    err instanceof TransportError ||
    (err instanceof GoogleApiError && err.status === 503)
  );
}
