import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import type { CommandContext } from '../context.js';
import { type PlannedJob, runPlanned } from './planned-jobs.js';

const LOG_SOURCE = 'target-state.ts';

/**
 * fleet's `setTargetStateOfUnits`: sets the desired state of each named unit, skipping
 * those already there, and returns the units it changed. The first error ends it (this is
 * not a transaction), with fleet's message. fleet handled one unit after the other; here up
 * to `UNITS_IN_FLIGHT` are read at once and the desired states set together through the
 * batch path, with the same outcome (see `runPlanned`).
 *
 * `lastRead` holds units this invocation read after its last write to them (lazy creation
 * has just read every argument): the first mention of such a unit uses that read instead of
 * asking again, which is what fleet's read would find unless another client wrote between.
 */
export async function setTargetStates(
  context: CommandContext,
  names: readonly string[],
  state: string,
  lastRead: ReadonlyMap<string, ApiUnit> = new Map(),
): Promise<ApiUnit[]> {
  const triggered: ApiUnit[] = [];
  const mentioned = new Set<string>();
  const jobs = names.map((name): PlannedJob<ApiUnit | null> => {
    const known = mentioned.has(name) ? undefined : lastRead.get(name);
    mentioned.add(name);
    return {
      reads: [],
      writes: [name],
      plan: async (output) => {
        const log = context.log.writingTo(output.stderr);
        let unit: ApiUnit | null;
        try {
          unit = known ?? (await context.client.unit(name));
        } catch (err) {
          throw new Error(`error retrieving unit ${name} from registry: ${errorMessage(err)}`);
        }
        if (unit === null) throw new Error(`unable to find unit ${name}`);
        if (unit.desiredState === state) {
          log.debug(LOG_SOURCE, `Unit(${name}) already ${state}, skipping.`);
          return { value: null, write: null };
        }
        log.debug(LOG_SOURCE, `Setting Unit(${name}) target state to ${state}`);
        return { value: unit, write: { kind: 'target', name, desiredState: state } };
      },
    };
  });
  await runPlanned(context, jobs, (unit) => {
    if (unit !== null) triggered.push(unit);
  });
  return triggered;
}
