import { DEFAULT_CONFIG_PATH } from '../config/index.js';

/** What fleetd's command line asks for. */
export type FleetdCommand =
  | { action: 'run'; configPath: string | undefined }
  | { action: 'version' }
  | { action: 'fail'; stderr: string; exitCode: number };

const DESCRIPTION =
  'fleetd is the server component of fleet, a simple orchestration system for scheduling systemd units in a cluster.';

/** The usage text, laid out as Go's flag.PrintDefaults printed it. */
export function usage(argv0: string): string {
  return [
    DESCRIPTION,
    `Usage of ${argv0}:`,
    '  -config string',
    `    \tPath to config file. Fleet will look for a config at ${DEFAULT_CONFIG_PATH} by default.`,
    '  -version',
    '    \tPrint the version and exit',
    '',
  ].join('\n');
}

/**
 * Parses fleetd's arguments as Go's `flag` package did: `-flag`, `--flag`, `-flag=value`,
 * `-flag value`; the positional `version` means `--version`; anything else is refused with
 * the original's text and exit status.
 */
export function parseFleetdArgs(args: readonly string[], argv0: string): FleetdCommand {
  let configPath: string | undefined;
  let version = false;
  let index = 0;
  while (index < args.length) {
    const arg = args[index]!;
    if (arg === '--') {
      index++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const [rawName, inlineValue] = splitFlag(arg);
    if (rawName === 'h' || rawName === 'help') {
      return { action: 'fail', stderr: usage(argv0), exitCode: 2 };
    }
    if (rawName === 'version') {
      if (
        inlineValue !== undefined &&
        !['true', 'false', '1', '0', 't', 'f'].includes(inlineValue)
      ) {
        return refuse(`invalid boolean value "${inlineValue}" for -version: parse error`, argv0);
      }
      version = inlineValue === undefined || ['true', '1', 't'].includes(inlineValue);
      index++;
      continue;
    }
    if (rawName === 'config') {
      if (inlineValue !== undefined) {
        configPath = inlineValue;
        index++;
      } else if (index + 1 < args.length) {
        configPath = args[index + 1];
        index += 2;
      } else {
        return refuse('flag needs an argument: -config', argv0);
      }
      continue;
    }
    return refuse(`flag provided but not defined: -${rawName}`, argv0);
  }
  const positional = args.slice(index);
  if (positional.length === 1 && positional[0] === 'version') version = true;
  else if (positional.length > 0) {
    return {
      action: 'fail',
      stderr: `${argv0} takes no arguments. Did you mean to invoke fleetctl instead?\n${usage(argv0)}`,
      exitCode: 1,
    };
  }
  return version ? { action: 'version' } : { action: 'run', configPath };
}

function splitFlag(arg: string): [name: string, value: string | undefined] {
  const body = arg.replace(/^--?/, '');
  const eq = body.indexOf('=');
  return eq === -1 ? [body, undefined] : [body.slice(0, eq), body.slice(eq + 1)];
}

function refuse(message: string, argv0: string): FleetdCommand {
  return { action: 'fail', stderr: `${message}\n${usage(argv0)}`, exitCode: 2 };
}
