import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NOT_SERVED } from '../../client/not-served.js';
import type { RolloutRequest, RolloutState, RolloutsClient } from '../../client/rollouts.js';
import { errorMessage } from '../../error-message.js';
import { parseGoDuration } from '../../go/duration.js';
import { unitNameInfo } from '../../unit/name.js';
import type { CommandContext, CommandRun } from '../context.js';
import { listLine, rolloutLines } from '../rollouts/progress.js';
import { LocalUnits } from '../units/local-unit.js';

/** The promise: never a plain replace, which would restart the unit everywhere. */
const NOT_SUPPORTED = 'Rolling updates are not supported by this server\n';
/** Failed looks in a row at a rollout under way (fleetd restarting, say) before giving up. */
const LOOKS_FAILED_AT_MOST = 40;
const USAGE = 'Usage: fleetctl rollout start|list|resume ID|abort ID\n';

/**
 * `fleetctl rollout …` (ours): starts a rolling update and follows it, lists rollouts,
 * resumes one paused after its canaries, or aborts one. The rollout lives in the cluster,
 * driven by the engine leader: leaving early stops the printing, not the rollout.
 */
export const run: CommandRun = async (context) => {
  const rollouts = context.client.rollouts;
  if (rollouts === undefined) {
    context.stderr.write('Rolling updates need the API driver (--driver=API)\n');
    return 1;
  }
  const [action, ...args] = context.args;
  try {
    switch (action) {
      case 'start':
        return await start(context, rollouts, args);
      case 'list':
        return await list(context, rollouts, args);
      case 'resume':
      case 'abort':
        return await act(context, rollouts, action, args);
      default:
        context.stderr.write(USAGE);
        return 1;
    }
  } catch (err) {
    context.stderr.write(`Error: ${errorMessage(err)}\n`);
    return 1;
  }
};

function notSupported(context: CommandContext): number {
  context.stderr.write(NOT_SUPPORTED);
  return 1;
}

async function start(
  context: CommandContext,
  rollouts: RolloutsClient,
  paths: readonly string[],
): Promise<number> {
  if (paths.length === 0) {
    context.stderr.write('One or more unit files must be provided\n');
    return 1;
  }
  const request = await requestOf(context, paths);
  if (typeof request === 'number') return request;
  const started = await rollouts.start(request);
  if (started === NOT_SERVED) return notSupported(context);
  context.stdout.write(`Rollout ${started.id} started\n`);
  return follow(context, rollouts, started);
}

/** The request the flags and unit files make, or the exit status after saying why not. */
async function requestOf(
  context: CommandContext,
  paths: readonly string[],
): Promise<RolloutRequest | number> {
  const { flags } = context;
  const counts = { maxParallel: flags.number('max-parallel'), canary: flags.number('canary') };
  if (!Number.isInteger(counts.maxParallel) || counts.maxParallel < 1) {
    context.stderr.write(`Invalid --max-parallel ${counts.maxParallel}: at least 1\n`);
    return 1;
  }
  if (!Number.isInteger(counts.canary) || counts.canary < 0) {
    context.stderr.write(`Invalid --canary ${counts.canary}: at least 0\n`);
    return 1;
  }
  const durations: Record<string, number> = {};
  for (const name of ['min-healthy-time', 'healthy-deadline']) {
    try {
      durations[name] = parseGoDuration(flags.string(name));
    } catch (err) {
      context.stderr.write(`Invalid --${name}: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  const minHealthyMs = Math.round(durations['min-healthy-time']!);
  const healthyDeadlineMs = Math.round(durations['healthy-deadline']!);
  if (minHealthyMs < 0 || healthyDeadlineMs <= 0) {
    context.stderr.write('Durations must be positive\n');
    return 1;
  }
  const local = new LocalUnits(context.cwd);
  const units: RolloutRequest['units'] = [];
  for (const path of paths) {
    const name = basename(path);
    const info = unitNameInfo(name);
    // As start does: an instance without a file of its own takes its template's.
    const file =
      info?.isInstance === true && !(await local.present(path))
        ? join(dirname(path), info.template)
        : path;
    units.push({ name, options: (await local.read(file)).options });
  }
  const healthCmd = flags.string('health-cmd');
  return {
    units,
    ...counts,
    minHealthyMs,
    healthyDeadlineMs,
    autoRevert: flags.bool('auto-revert'),
    healthCmd: healthCmd === '' ? null : healthCmd,
  };
}

/** Prints the rollout's steps as they move on, until it ends; 0 if it completed. */
async function follow(
  context: CommandContext,
  rollouts: RolloutsClient,
  first: RolloutState,
): Promise<number> {
  let seen: RolloutState | null = null;
  let current = first;
  let failedLooks = 0;
  for (;;) {
    for (const line of rolloutLines(seen, current)) context.stdout.write(`${line}\n`);
    seen = current;
    if (current.status === 'completed') return 0;
    if (current.status === 'failed' || current.status === 'aborted') return 1;
    await sleep(context.timing.pollIntervalMs);
    try {
      const next = await rollouts.get(current.id);
      if (next === NOT_SERVED) return notSupported(context);
      current = next;
      failedLooks = 0;
    } catch (err) {
      if (++failedLooks >= LOOKS_FAILED_AT_MOST) {
        context.stderr.write(`Error following rollout ${current.id}: ${errorMessage(err)}\n`);
        return 1;
      }
      await sleep(context.timing.attemptWindowMs);
    }
  }
}

async function list(
  context: CommandContext,
  rollouts: RolloutsClient,
  args: readonly string[],
): Promise<number> {
  if (args.length > 0) {
    context.stderr.write(USAGE);
    return 1;
  }
  const all = await rollouts.list();
  if (all === NOT_SERVED) return notSupported(context);
  context.stdout.write('ROLLOUT\tSTATUS\tUPDATED\tUNITS\n');
  for (const rollout of all) context.stdout.write(`${listLine(rollout)}\n`);
  return 0;
}

/** `resume ID` follows the resumed rollout to its end; `abort ID` says how it ended. */
async function act(
  context: CommandContext,
  rollouts: RolloutsClient,
  action: 'resume' | 'abort',
  args: readonly string[],
): Promise<number> {
  if (args.length !== 1) {
    context.stderr.write('One rollout ID must be provided\n');
    return 1;
  }
  const rollout = await (action === 'resume'
    ? rollouts.resume(args[0]!)
    : rollouts.abort(args[0]!));
  if (rollout === NOT_SERVED) return notSupported(context);
  if (action === 'abort') {
    context.stdout.write(`${rollout.message}\n`);
    return 0;
  }
  context.stdout.write(`Rollout ${rollout.id} resumed\n`);
  return follow(context, rollouts, rollout);
}
