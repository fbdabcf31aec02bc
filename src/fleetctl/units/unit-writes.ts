import type { ApiUnit, ApiUnitOption } from '../../api/schema.js';
import type { FleetClient } from '../../client/types.js';
import { BatchNotServedError, exceedsBatchLimits, splitBatches } from '../../client/unit-batch.js';
import type { Output } from '../output.js';
import { runInOrder, UNITS_IN_FLIGHT } from './ordered-jobs.js';

/** A write a command makes: a unit created (desired state `inactive`), or a desired state set. */
export type UnitWrite =
  | { kind: 'create'; name: string; options: readonly ApiUnitOption[] }
  | { kind: 'target'; name: string; desiredState: string };

/** A write that was not made because an earlier one failed. */
export const NOT_SENT = 'not-sent';

/** How a write ended: made (null), failed with the error its own request would have got, or not sent. */
export type WriteOutcome = Error | null | typeof NOT_SENT;

const DISCARD: Output = { write: () => {} };

/**
 * Makes the writes in order, several at once through the batch path (`client.writeUnits`),
 * split to stay within its limits; a single write is sent as its own request, as fleet sent
 * it. With `stopAtFailure`, nothing after the batch holding the first failure is sent, as
 * fleet stopped at its first failing request; without, every write is tried.
 *
 * Where the cluster has no batch path (the original's 404), the writes not made yet are made
 * one request each, as fleet made them: up to `UNITS_IN_FLIGHT` at once and none after the
 * first failure with `stopAtFailure` (see `runInOrder`), else one after the other. Any other
 * failure of a batch request is the failure of its first write, as the first of its requests
 * one by one would have met it.
 */
export async function writeUnits(
  client: FleetClient,
  writes: readonly UnitWrite[],
  { stopAtFailure }: { stopAtFailure: boolean },
): Promise<WriteOutcome[]> {
  const outcomes: WriteOutcome[] = writes.map(() => NOT_SENT);
  if (writes.length === 1 || client.writeUnits === undefined) {
    await writeOneByOne(client, writes, 0, outcomes, stopAtFailure);
    return outcomes;
  }
  let offset = 0;
  for (const batch of splitBatches(writes.map(bodyOf))) {
    const start = offset;
    offset += batch.length;
    if (batch.length === 1 && exceedsBatchLimits(batch)) {
      // One unit larger than a batch may carry: its own request refuses it as fleet's did.
      outcomes[start] = await writeOne(client, writes[start]!);
    } else {
      let results: Array<Error | null>;
      try {
        results = await client.writeUnits(batch);
      } catch (err) {
        if (err instanceof BatchNotServedError) {
          await writeOneByOne(client, writes, start, outcomes, stopAtFailure);
          return outcomes;
        }
        if (stopAtFailure) {
          outcomes[start] = asError(err);
          return outcomes;
        }
        results = batch.map(() => asError(err));
      }
      results.forEach((result, index) => {
        outcomes[start + index] = result;
      });
    }
    if (stopAtFailure && outcomes.slice(start, offset).some((outcome) => outcome !== null)) {
      return outcomes;
    }
  }
  return outcomes;
}

/** The write as the body of its own PUT, which is also its entry in a batch. */
function bodyOf(write: UnitWrite): ApiUnit {
  return write.kind === 'create'
    ? { name: write.name, options: [...write.options] }
    : { desiredState: write.desiredState, name: write.name };
}

async function writeOne(client: FleetClient, write: UnitWrite): Promise<Error | null> {
  try {
    if (write.kind === 'create') {
      await client.createUnit({ name: write.name, options: [...write.options] });
    } else {
      await client.setUnitTargetState(write.name, write.desiredState);
    }
    return null;
  } catch (err) {
    return asError(err);
  }
}

/** The writes from `start` on, one request each, their outcomes into `outcomes`. */
async function writeOneByOne(
  client: FleetClient,
  writes: readonly UnitWrite[],
  start: number,
  outcomes: WriteOutcome[],
  stopAtFailure: boolean,
): Promise<void> {
  if (!stopAtFailure) {
    for (let index = start; index < writes.length; index++) {
      outcomes[index] = await writeOne(client, writes[index]!);
    }
    return;
  }
  let done = start;
  try {
    await runInOrder(
      writes.slice(start).map((write) => ({
        reads: [],
        writes: [write.name],
        run: async (turn) => {
          await turn.mayWrite();
          const error = await writeOne(client, write);
          if (error !== null) throw error;
        },
      })),
      {
        limit: UNITS_IN_FLIGHT,
        stdout: DISCARD,
        stderr: DISCARD,
        onResult: () => {
          outcomes[done++] = null;
        },
      },
    );
  } catch (err) {
    outcomes[done] = asError(err);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
