import { applyEnvironment } from './environment.js';
import { FlagError, FlagValues, HelpRequested } from './flags.js';
import { parseCommandArguments } from './program.js';
import { commandFlagSet, findCommand } from './resolve.js';
import { type CommandSpec, HELP_COMMAND, ROOT } from './specs.js';

/**
 * What a fleetctl command line asks for, decided the way fleet v1.0 decided it with
 * cobra and pflag: `--version` first (fleet checked it before cobra), then cobra's command
 * lookup, then commander parses the command's arguments. Rendering is the caller's.
 */
export type Invocation =
  /** `--version` or `-v` as the very first argument (and only there). */
  | { kind: 'version' }
  /** Print the command's usage on stdout and exit 0. */
  | { kind: 'usage'; command: CommandSpec; notice: string }
  /** cobra's unknown command error; fleet exits 0 after it. */
  | { kind: 'unknown-command'; error: string }
  /** A flag pflag refused: the error on stderr, the command's usage on stdout, exit 0. */
  | { kind: 'flag-error'; command: CommandSpec; error: string; notice: string }
  /** `help` of a command that does not exist. */
  | { kind: 'unknown-help-topic'; topics: string[] }
  | { kind: 'run'; command: CommandSpec; args: string[]; flags: FlagValues; notice: string };

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Parses `argv` (without the program name). `notice` is what cobra prints on stderr before
 * parsing the command's flags: the deprecation of `verify`.
 */
export function parseInvocation(argv: readonly string[], env: Environment): Invocation {
  if (argv.length === 0) return { kind: 'usage', command: ROOT, notice: '' };
  if (argv[0] === '--version' || argv[0] === '-v') return { kind: 'version' };

  const resolution = findCommand(argv);
  if ('error' in resolution) return { kind: 'unknown-command', error: resolution.error };
  const { command } = resolution;
  const notice =
    command.deprecated === undefined
      ? ''
      : `Command "${command.name}" is deprecated, ${command.deprecated}\n`;

  const flags = new FlagValues(commandFlagSet(command).flags);
  applyEnvironment(ROOT.flags, env, flags);
  let positional: string[];
  try {
    positional = parseCommandArguments(command, resolution.args, flags);
  } catch (err) {
    if (err instanceof HelpRequested) return { kind: 'usage', command, notice };
    if (err instanceof FlagError)
      return { kind: 'flag-error', command, error: err.message, notice };
    throw err;
  }

  if (flags.bool('help') || command === ROOT) return { kind: 'usage', command, notice };
  if (command === HELP_COMMAND) {
    const topic = findCommand(positional);
    return 'error' in topic
      ? { kind: 'unknown-help-topic', topics: positional }
      : { kind: 'usage', command: topic.command, notice };
  }
  return { kind: 'run', command, args: positional, flags, notice };
}
