import { errorMessage } from '../../error-message.js';
import type { CommandContext, CommandRun } from '../context.js';
import { joinHostPort } from '../remote/ssh.js';
import { isGlobal, unitName } from '../units/unit-arguments.js';

/** An address lookup: `found` false with no error means "nothing usable, keep looking". */
interface Lookup {
  address: string;
  found: boolean;
}

/** fleet's `findAddressInMachineList`: a unique machine ID prefix. */
async function machineAddress(context: CommandContext, prefix: string): Promise<Lookup> {
  const matches = (await context.client.machines()).filter((m) => m.id.startsWith(prefix));
  if (matches.length > 1) throw new Error('found more than one machine');
  const [machine] = matches;
  if (machine === undefined) throw new Error('machine does not exist');
  return { address: machine.primaryIP ?? '', found: true };
}

/** fleet's `findAddressInRunningUnits`: the address of the machine a unit is scheduled to. */
async function unitAddress(context: CommandContext, arg: string): Promise<Lookup> {
  const unit = await context.client.unit(unitName(arg));
  if (unit === null) throw new Error('unit does not exist');
  if (isGlobal(unit)) throw new Error('global units unsupported');
  const machine = await context.machines.cached(unit.machineID ?? '');
  const address = machine?.primaryIP ?? '';
  return { address, found: address !== '' };
}

/** Looks the first argument up as a machine and as a unit; lookup errors count as misses. */
async function autodetect(context: CommandContext, lookup: string): Promise<string> {
  const miss: Lookup = { address: '', found: false };
  const machine = await machineAddress(context, lookup).catch(() => miss);
  const unit = await unitAddress(context, lookup).catch(() => miss);
  if (machine.found && unit.found) {
    throw new Error(
      `ambiguous argument, both machine and unit found for \`${lookup}\`.\nPlease use flag \`-m\` or \`-u\` to refine the search`,
    );
  }
  if (machine.found) return machine.address;
  if (unit.found) return unit.address;
  throw new Error('could not find matching unit or machine');
}

/**
 * `fleetctl ssh {MACHINE|UNIT} [COMMAND...]`: a shell, or the command, on a machine given
 * by ID prefix or by a unit scheduled to it.
 */
export const run: CommandRun = async (context) => {
  const { flags } = context;
  const byMachine = flags.string('machine');
  const byUnit = flags.string('unit');
  if (byMachine !== '' && byUnit !== '') {
    context.stderr.write('Both machine and unit flags provided, please specify only one.\n');
    return 1;
  }
  let args = context.args;
  let address: string;
  try {
    if (byMachine !== '') {
      address = (await machineAddress(context, byMachine)).address;
    } else if (byUnit !== '') {
      address = (await unitAddress(context, byUnit)).address;
    } else {
      const [lookup] = args;
      if (lookup === undefined) throw new Error('one machine or unit must be provided');
      address = await autodetect(context, lookup);
      args = args.slice(1);
    }
  } catch (err) {
    context.stderr.write(`Unable to proceed: ${errorMessage(err)}\n`);
    return 1;
  }
  if (address === '') {
    context.stderr.write('Could not determine address of machine.\n');
    return 1;
  }
  const dashes = args.indexOf('--');
  if (dashes >= 0) args = args.slice(dashes + 1);

  let session: Awaited<ReturnType<typeof openSession>>;
  try {
    session = await openSession(context, joinHostPort(address, flags.number('ssh-port')));
  } catch (err) {
    context.stderr.write(`Failed building SSH client: ${errorMessage(err)}\n`);
    return 1;
  }
  try {
    if (args.length > 0) {
      try {
        return await session.execute(args.join(' '), context);
      } catch (err) {
        context.stderr.write(`Failed running command over SSH: ${errorMessage(err)}\n`);
        return -1;
      }
    }
    try {
      await session.shell(context);
      return 0;
    } catch (err) {
      context.stderr.write(`Failed opening shell over SSH: ${errorMessage(err)}\n`);
      return 1;
    }
  } finally {
    await session.close();
  }
};

function openSession(context: CommandContext, address: string) {
  return context.ssh.connect({
    ...context.sshOptions,
    address,
    agentForwarding: context.flags.bool('forward-agent'),
  });
}
