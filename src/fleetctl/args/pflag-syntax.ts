import { quoteRune } from '../../go/text.js';
import { FlagError, type FlagSet, type FlagSpec, HelpRequested } from './flags.js';

/** One flag on the command line and the value pflag gave it. */
export interface FlagOccurrence {
  flag: FlagSpec;
  value: string;
  /** The argument that named the flag, as pflag's error messages quote it. */
  arg: string;
}

export interface PflagScan {
  /** The arguments for commander: up to, not including, the one that stopped pflag. */
  args: string[];
  occurrences: FlagOccurrence[];
  /** Why pflag would stop there: an unknown flag, bad syntax, a shorthand, or `-h`. */
  stop: FlagError | HelpRequested | null;
}

/**
 * Where pflag's syntax differs from commander's, in one pass over a command's arguments:
 *
 * - A bare boolean flag means `=true` (pflag's `NoOptDefVal`) and `--flag=false` is allowed;
 *   commander's boolean options take no `=value`, and its optional values would take the
 *   next argument. So a bare boolean flag is handed to commander as `--flag=true`.
 * - pflag stops at the first unknown flag, while commander goes on assigning the known ones
 *   after it (whose values may fail first) and reports unknown options last. So the
 *   arguments end before it, and it is reported once commander has parsed the rest.
 * - Every single-dash argument is an error (`-h` asks for help): fleet registers no
 *   shorthands, and commander would take `-5` for an argument.
 *
 * The value of a flag that takes one is the next argument whatever it looks like, as in
 * both parsers.
 */
export function scanPflag(args: readonly string[], flags: FlagSet): PflagScan {
  const forCommander: string[] = [];
  const occurrences: FlagOccurrence[] = [];
  const result = (stop: PflagScan['stop']) => ({ args: forCommander, occurrences, stop });
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      forCommander.push(...args.slice(i));
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) {
      forCommander.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) return result(shorthandError(arg));
    const body = arg.slice(2);
    if (body.startsWith('-') || body.startsWith('=')) {
      return result(new FlagError(`bad flag syntax: ${arg}`));
    }
    const equals = body.indexOf('=');
    const name = equals < 0 ? body : body.slice(0, equals);
    const flag = flags.lookup(name);
    if (flag === undefined) return result(new FlagError(`unknown flag: --${name}`));
    if (equals >= 0) {
      forCommander.push(arg);
      occurrences.push({ flag, value: body.slice(equals + 1), arg });
    } else if (flag.kind === 'bool') {
      forCommander.push(`${arg}=true`);
      occurrences.push({ flag, value: 'true', arg });
    } else {
      // Without a next argument commander reports the missing value.
      forCommander.push(arg);
      const value = args[i + 1];
      if (value !== undefined) {
        forCommander.push(value);
        occurrences.push({ flag, value, arg });
        i++;
      }
    }
  }
  return result(null);
}

/** pflag's verdict on `-x…`: `-h` asks for help, any other letter is unknown. */
function shorthandError(arg: string): FlagError | HelpRequested {
  const first = Buffer.from(arg.slice(1), 'utf8')[0]!;
  if (first === 0x68) return new HelpRequested();
  return new FlagError(`unknown shorthand flag: ${quoteRune(first)} in ${arg}`);
}
