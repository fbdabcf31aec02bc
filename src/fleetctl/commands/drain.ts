import { setTimeout as sleep } from 'node:timers/promises';
import type { DrainState } from '../../client/machine-cordons.js';
import { NOT_SERVED } from '../../client/not-served.js';
import { errorMessage } from '../../error-message.js';
import type { CommandRun } from '../context.js';
import { cordonsOf, findMachine, notSupported, oneMachine } from '../machines/cordons.js';
import { progressLines, summaryLines } from '../machines/drain-progress.js';

/** Failed looks in a row at a drain under way (fleetd restarting, say) before giving up. */
const LOOKS_FAILED_AT_MOST = 40;

/**
 * `fleetctl drain [--max-parallel N] MACHINE` (ours): cordons the machine and has the engine
 * leader move its units elsewhere, N at a time, printing each move as it begins and ends.
 * The drain lives in the cluster: leaving early stops the printing, not the drain. Exits 1
 * when a unit stayed, or the drain was called off (uncordoned).
 */
export const run: CommandRun = async (context) => {
  const arg = oneMachine(context);
  if (typeof arg === 'number') return arg;
  const maxParallel = context.flags.number('max-parallel');
  if (!Number.isInteger(maxParallel) || maxParallel < 1) {
    context.stderr.write(`Invalid --max-parallel ${maxParallel}: at least 1 unit must move\n`);
    return 1;
  }
  const cordons = cordonsOf(context);
  if (cordons === null) return 1;
  let machineID: string;
  try {
    const machine = await findMachine(context, cordons, arg);
    if (typeof machine === 'number') return machine;
    machineID = machine.id;
    if ((await cordons.drain(machineID, maxParallel)) === NOT_SERVED) return notSupported(context);
  } catch (err) {
    context.stderr.write(`Error draining machine ${arg}: ${errorMessage(err)}\n`);
    return 1;
  }
  context.stdout.write(
    `Draining machine ${machineID}, ${maxParallel} unit${maxParallel === 1 ? '' : 's'} at a time\n`,
  );

  let seen: DrainState | null = null;
  let failedLooks = 0;
  for (;;) {
    let drain: DrainState | null;
    try {
      const machines = await cordons.list();
      if (machines === NOT_SERVED) return notSupported(context);
      drain = machines.find((machine) => machine.id === machineID)?.drain ?? null;
      failedLooks = 0;
    } catch (err) {
      if (++failedLooks >= LOOKS_FAILED_AT_MOST) {
        context.stderr.write(`Error following the drain: ${errorMessage(err)}\n`);
        return 1;
      }
      await sleep(context.timing.attemptWindowMs);
      continue;
    }
    if (drain === null) {
      context.stderr.write(`The drain of machine ${machineID} was called off\n`);
      return 1;
    }
    for (const line of progressLines(seen, drain)) context.stdout.write(`${line}\n`);
    seen = drain;
    if (drain.done) {
      for (const line of summaryLines(machineID, drain)) context.stdout.write(`${line}\n`);
      return drain.stayed.length === 0 ? 0 : 1;
    }
    await sleep(context.timing.pollIntervalMs);
  }
};
