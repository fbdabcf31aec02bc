import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import { quoteString } from '../../go/text.js';
import { FlagError, type FlagSpec, FlagValues } from './flags.js';
import { FlagOption, FleetHelp, GLOBAL_FLAGS, OWN_FLAGS } from './help.js';
import { type FlagOccurrence, scanPflag } from './pflag-syntax.js';
import { commandFlagSet } from './resolve.js';
import { CLI_NAME, type CommandSpec, ROOT, SUBCOMMANDS } from './specs.js';

// commander is CommonJS: see help.ts.
const { Command, CommanderError } = createRequire(import.meta.url)('commander') as typeof Commander;

/** fleetctl writes its own messages: commander's texts are not cobra's. */
const SILENT = { writeOut: () => {}, writeErr: () => {}, outputError: () => {} };

/** Where one parse puts the flag values, and the occurrences its error messages quote. */
interface FlagSink {
  values: FlagValues;
  occurrences: readonly FlagOccurrence[];
}

/** One of fleetctl's commands for commander, carrying its cobra declaration. */
class FleetCommand extends Command {
  constructor(
    readonly spec: CommandSpec,
    private readonly fleetVersion: string,
  ) {
    super(spec.name);
  }

  override createHelp(): Commander.Help {
    return new FleetHelp(this.fleetVersion);
  }

  /**
   * Declares the command's flags and the root's persistent ones, as cobra merges them into
   * one flag set. Each value is converted as pflag converts it, when commander meets it.
   */
  declareFlags(sink: FlagSink): void {
    const own = this.spec === ROOT ? [] : this.spec.flags;
    for (const flag of own) this.addOption(flagOption(flag, OWN_FLAGS, sink));
    for (const flag of ROOT.flags) {
      this.addOption(flagOption(flag, this.spec === ROOT ? OWN_FLAGS : GLOBAL_FLAGS, sink));
    }
  }
}

function flagOption(
  flag: FlagSpec,
  heading: typeof OWN_FLAGS | typeof GLOBAL_FLAGS,
  sink: FlagSink,
) {
  return new FlagOption(flag, heading).argParser((value: string) => {
    const error = sink.values.set(flag, value);
    if (error !== null) {
      // The first occurrence with this value is the one that failed: an earlier one would have.
      const occurrence = sink.occurrences.find((o) => o.flag === flag && o.value === value);
      const arg = occurrence?.arg ?? `--${flag.name}`;
      throw new FlagError(`invalid argument ${quoteString(value)} for ${arg}: ${error}`);
    }
    return value;
  });
}

/** What the action of the command commander dispatched to hands back. */
interface Dispatch {
  command: CommandSpec;
  args: string[];
}

/**
 * A commander program for one command line: fleetctl's commands under a dispatcher that has
 * no options of its own, so each command parses every argument after its name, flags before
 * the name included, as cobra did once it had found the command. cobra's root, which parses
 * its own flags when no command is named, is the hidden command `fleetctl`, so that
 * commander never takes one of its arguments for a command name: cobra had decided already
 * that none was.
 *
 * Only `specs` are declared, and only `current` gets its flags: cobra's lookup has named the
 * command already, and declaring every command with its twenty-odd flags would cost each
 * cold start milliseconds.
 */
function buildProgram(
  version: string,
  specs: readonly CommandSpec[],
  current: CommandSpec,
  sink: FlagSink,
) {
  const program = new Command(CLI_NAME)
    .enablePositionalOptions()
    .helpOption(false)
    .helpCommand(false)
    .exitOverride()
    .configureOutput(SILENT);
  const dispatch: { result?: Dispatch } = {};
  let declared: FleetCommand | undefined;
  for (const spec of specs) {
    const command = new FleetCommand(spec, version)
      .copyInheritedSettings(program)
      .summary(spec.short)
      .description(spec.long)
      .usage(spec.use)
      .argument('[args...]')
      .action((args: string[]) => {
        dispatch.result = { command: spec, args };
      });
    program.addCommand(command, { hidden: spec === ROOT });
    if (spec === current) {
      command.declareFlags(sink);
      declared = command;
    }
  }
  if (declared === undefined) throw new Error(`${current.name} is not among the commands`);
  return { program, command: declared, dispatch };
}

/**
 * Parses a command's arguments (everything but its name) with commander, into `values`,
 * and returns the command's positional arguments. Throws FlagError with pflag's message, or
 * HelpRequested for `-h`.
 */
export function parseCommandArguments(
  command: CommandSpec,
  args: readonly string[],
  values: FlagValues,
): string[] {
  const scan = scanPflag(args, commandFlagSet(command));
  const sink = { values, occurrences: scan.occurrences };
  const { program, dispatch } = buildProgram('', [command], command, sink);
  try {
    program.parse([command.name, ...scan.args], { from: 'user' });
  } catch (err) {
    // A missing value can only be the last argument's.
    if (err instanceof CommanderError && err.code === 'commander.optionMissingArgument') {
      throw new FlagError(`flag needs an argument: ${scan.args.at(-1)}`);
    }
    throw err;
  }
  if (scan.stop !== null) throw scan.stop;
  if (dispatch.result?.command !== command) throw new Error(`${command.name} was not dispatched`);
  return dispatch.result.args;
}

/** The command's help as commander renders it with fleet's template; the root's lists every command. */
export function renderUsage(command: CommandSpec, version: string): string {
  const specs = command === ROOT ? [ROOT, ...SUBCOMMANDS] : [command];
  const sink = { values: new FlagValues([]), occurrences: [] };
  return buildProgram(version, specs, command, sink).command.helpInformation();
}
