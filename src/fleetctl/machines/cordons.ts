import type { MachineCordonState, MachineCordonsClient } from '../../client/machine-cordons.js';
import { NOT_SERVED } from '../../client/not-served.js';
import type { CommandContext } from '../context.js';

const NOT_SUPPORTED = 'Cordon and drain are not supported by this server\n';

/** The client's cordons, or null after saying that this driver has none. */
export function cordonsOf(context: CommandContext): MachineCordonsClient | null {
  const cordons = context.client.cordons;
  if (cordons === undefined)
    context.stderr.write('Cordon and drain need the API driver (--driver=API)\n');
  return cordons ?? null;
}

/** Says the server has no cordons (it answered the original fleet's 404); the exit status. */
export function notSupported(context: CommandContext): number {
  context.stderr.write(NOT_SUPPORTED);
  return 1;
}

/**
 * The machine named by `arg`, its full ID or a prefix of one, as list-machines prints it
 * (cordoned machines that left count too); otherwise the exit status, having said why.
 */
export async function findMachine(
  context: CommandContext,
  cordons: MachineCordonsClient,
  arg: string,
): Promise<MachineCordonState | number> {
  const machines = await cordons.list();
  if (machines === NOT_SERVED) return notSupported(context);
  const exact = machines.find((machine) => machine.id === arg);
  if (exact !== undefined) return exact;
  const matching = arg === '' ? [] : machines.filter((machine) => machine.id.startsWith(arg));
  if (matching.length === 1) return matching[0]!;
  context.stderr.write(
    matching.length === 0
      ? `Machine ${arg} not found\n`
      : `Machine ${arg} is ambiguous: it begins ${matching.length} machine IDs\n`,
  );
  return 1;
}

/** Checks there is exactly one argument; the exit status otherwise. */
export function oneMachine(context: CommandContext): string | number {
  if (context.args.length === 1) return context.args[0]!;
  context.stderr.write('One machine must be provided\n');
  return 1;
}
