import { homedir } from 'node:os';
import type { FleetClient } from '../client/types.js';
import { errorMessage } from '../error-message.js';
import { quoteString } from '../go/text.js';
import { FLEET_VERSION } from '../version.js';
import type { FlagValues } from './args/flags.js';
import { type Environment, parseInvocation } from './args/invocation.js';
import { renderUsage } from './args/program.js';
import { type CommandSpec, ROOT } from './args/specs.js';
import {
  type ClientServices,
  clientOptions,
  type Drivers,
  MODULE_DRIVERS,
  prepareClient,
} from './client/create-client.js';
import { COMMAND_MODULES } from './commands/index.js';
import { FLEET_TIMING, type Timing } from './context.js';
import { Logger } from './log.js';
import type { Output } from './output.js';
import { MachineCommandRunner, readLocalMachineId } from './remote/run-command.js';
import { defaultSshConnector, type SshConnector } from './remote/ssh.js';
import { MachineCache } from './units/machines.js';

/** The world one fleetctl invocation sees; everything but the streams has a default. */
export interface FleetctlIo {
  /** The arguments after the program name. */
  argv: readonly string[];
  env: Environment;
  cwd: string;
  stdin: NodeJS.ReadableStream;
  stdout: Output;
  stderr: Output;
  drivers?: Drivers;
  ssh?: SshConnector;
  localMachineId?: () => Promise<string | null>;
  timing?: Timing;
  now?: () => Date;
}

/**
 * Runs one fleetctl command line and resolves with its exit status (-1 meaning 255, as
 * Go's `os.Exit(-1)`). Argument errors exit 0, as fleet v1.0's did.
 */
export async function runFleetctl(io: FleetctlIo): Promise<number> {
  const invocation = parseInvocation(io.argv, io.env);
  switch (invocation.kind) {
    case 'version':
      io.stdout.write(`fleetctl version ${FLEET_VERSION}\n`);
      return 0;
    case 'usage':
      io.stderr.write(invocation.notice);
      io.stdout.write(renderUsage(invocation.command, FLEET_VERSION));
      return 0;
    case 'unknown-command':
      io.stderr.write(
        `Error: ${invocation.error}\nRun '${ROOT.name} --help' for usage.\n` +
          `cannot execute cmdFleet: ${invocation.error}\n`,
      );
      return 0;
    case 'flag-error':
      // cobra prints the usage through fleet's usage function, which writes to stdout and
      // leaves cobra an empty string to print: hence the bare newline on stderr.
      io.stderr.write(`${invocation.notice}Error: ${invocation.error}\n`);
      io.stdout.write(renderUsage(invocation.command, FLEET_VERSION));
      io.stderr.write(`\ncannot execute cmdFleet: ${invocation.error}\n`);
      return 0;
    case 'unknown-help-topic':
      io.stderr.write(`Unknown help topic ${goQuotedList(invocation.topics)}\n`);
      io.stdout.write(renderUsage(ROOT, FLEET_VERSION));
      return 0;
    case 'run':
      io.stderr.write(invocation.notice);
      return execute(io, invocation.command, invocation.args, invocation.flags);
  }
}

/** Go's `%#q` of a `[]string`: back-quoted where possible. */
function goQuotedList(items: readonly string[]): string {
  const quoted = items.map((item) =>
    /^[^`\x00-\x08\x0a-\x1f\x7f\ufeff]*$/.test(item) ? `\`${item}\`` : quoteString(item),
  );
  return `[${quoted.join(' ')}]`;
}

/** fleet's `runWrapper`: builds the client from the global flags, then runs the command. */
async function execute(
  io: FleetctlIo,
  command: CommandSpec,
  args: string[],
  flags: FlagValues,
): Promise<number> {
  const entry = COMMAND_MODULES[command.name];
  if (entry === undefined) throw new Error(`no implementation of ${command.name}`);
  const log = new Logger(io.stderr, flags.bool('debug'), io.now);
  if (flags.bool('sign')) {
    io.stderr.write(
      'WARNING: The signed/verified units feature is DEPRECATED and cannot be used.\n',
    );
    return 2;
  }
  const options = clientOptions(flags, io.env.HOME ?? homedir());
  const ssh =
    io.ssh ??
    defaultSshConnector({
      env: io.env,
      get stdin() {
        return io.stdin;
      },
      stderr: io.stderr,
      log,
    });
  const services: ClientServices = {
    drivers: io.drivers ?? MODULE_DRIVERS,
    ssh,
    log,
    stderr: io.stderr,
    version: FLEET_VERSION,
  };
  let client: FleetClient;
  try {
    const connect = await prepareClient(options, services);
    client = entry.connects ? await connect() : DISCONNECTED;
  } catch (err) {
    io.stderr.write(`Unable to initialize client: ${errorMessage(err)}\n`);
    return 1;
  }
  try {
    const { run } = await entry.load();
    const machines = new MachineCache(client);
    const sshOptions = { ...options.ssh, tunnel: options.tunnel };
    return await run({
      name: command.name,
      args,
      flags,
      client,
      stdout: io.stdout,
      stderr: io.stderr,
      get stdin() {
        return io.stdin;
      },
      log,
      cwd: io.cwd,
      env: io.env,
      timing: io.timing ?? FLEET_TIMING,
      machines,
      remote: new MachineCommandRunner({
        localMachineId: io.localMachineId ?? (() => readLocalMachineId()),
        env: io.env,
        machines,
        client,
        ssh,
        sshOptions,
        get stdin() {
          return io.stdin;
        },
        stdout: io.stdout,
        stderr: io.stderr,
      }),
      ssh,
      sshOptions,
    });
  } finally {
    await client.close();
  }
}

function notConnected(): never {
  throw new Error('this command does not talk to the cluster');
}

/** The client of commands that never talk to the cluster (version, verify, fd-forward). */
const DISCONNECTED: FleetClient = {
  machines: notConnected,
  unit: notConnected,
  units: notConnected,
  unitStates: notConnected,
  unitState: notConnected,
  createUnit: notConnected,
  setUnitTargetState: notConnected,
  destroyUnit: notConnected,
  close: async () => {},
};
