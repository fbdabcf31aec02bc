import { quoteString } from '../../go/text.js';
import { FlagSet } from './flags.js';
import { type CommandSpec, ROOT, SUBCOMMANDS } from './specs.js';
import { suggestionsFor } from './suggestions.js';

export type Resolution =
  | { command: CommandSpec; args: string[] }
  | { command: CommandSpec; error: string };

const ROOT_FLAGS = new FlagSet(ROOT.flags);

/** The flags a command parses: its own and the root's persistent ones. */
export function commandFlagSet(command: CommandSpec): FlagSet {
  return command === ROOT ? ROOT_FLAGS : new FlagSet([...command.flags, ...ROOT.flags]);
}

/**
 * cobra's `stripFlags`: guesses which arguments are not flags or flag values, without
 * parsing. A `--name` of a non-boolean (or unknown) flag swallows the next argument, and so
 * does any two-character `-x`, since fleet registers no shorthand.
 */
export function stripFlags(args: readonly string[], flags: FlagSet): string[] {
  const commands: string[] = [];
  let inQuote = false;
  let inFlag = false;
  for (const arg of args) {
    if (!inQuote) {
      if (arg.startsWith('"')) {
        inQuote = true;
      } else if (arg.includes('="')) {
        inQuote = true;
      } else if (arg.startsWith('--') && !arg.includes('=')) {
        inFlag = flags.lookup(arg.slice(2))?.kind !== 'bool';
      } else if (arg.startsWith('-') && !arg.includes('=') && Buffer.byteLength(arg) === 2) {
        inFlag = true;
      } else if (inFlag) {
        inFlag = false;
      } else if (arg === '') {
        // cobra drops empty arguments here.
      } else if (!arg.startsWith('-')) {
        commands.push(arg);
        inFlag = false;
      }
    }
    if (arg.endsWith('"') && !arg.endsWith('\\"')) inQuote = false;
  }
  return commands;
}

/** cobra's `argsMinusFirstX`: drops the first argument equal to `x`, wherever it is. */
function argsMinusFirst(args: readonly string[], x: string): string[] {
  const index = args.indexOf(x);
  return index < 0 ? [...args] : [...args.slice(0, index), ...args.slice(index + 1)];
}

/**
 * cobra's `Find` with prefix matching enabled (fleet sets `EnablePrefixMatching`): the
 * first argument that is not a flag names the command, exactly or by an unambiguous
 * prefix. What remains (flags and arguments) is for the command to parse.
 */
export function findCommand(args: readonly string[]): Resolution {
  const words = stripFlags(args, ROOT_FLAGS);
  const typed = words[0];
  if (typed === undefined) return { command: ROOT, args: [...args] };
  const exact = SUBCOMMANDS.find((command) => command.name === typed);
  if (exact !== undefined) return { command: exact, args: argsMinusFirst(args, typed) };
  const prefixed = SUBCOMMANDS.filter((command) => command.name.startsWith(typed));
  if (prefixed.length === 1) return { command: prefixed[0]!, args: argsMinusFirst(args, typed) };

  const suggestions = suggestionsFor(typed, SUBCOMMANDS);
  const hint =
    suggestions.length === 0
      ? ''
      : `\n\nDid you mean this?\n${suggestions.map((name) => `\t${name}\n`).join('')}`;
  return {
    command: ROOT,
    error: `unknown command ${quoteString(typed)} for ${quoteString(ROOT.name)}${hint}`,
  };
}
