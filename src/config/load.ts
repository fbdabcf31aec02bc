/**
 * fleetd's configuration: built-in defaults, overridden by the config file, overridden by
 * `FLEET_*` environment variables, as fleet v1.0 layered them. Unlike fleet, a value that does
 * not parse is an error rather than silently leaving the default.
 */

import { readFileSync, statSync } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import type { z } from 'zod';
import { IniSyntaxError, parseIni } from './ini.js';
import {
  type FleetConfig,
  isOptionName,
  OPTION_NAMES,
  type OptionName,
  optionsSchema,
  toFleetConfig,
} from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/fleet/fleet.conf';

/** Something for fleetd to log once its logger is set up; texts are fleet's where it had one. */
export interface ConfigNotice {
  level: 'info' | 'warn' | 'error';
  msg: string;
}

/** Configuration fleetd must not start with; the message is meant for the operator. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadConfigOptions {
  /** `--config`; an empty string counts as not given, as in fleet. */
  path?: string;
  env: Record<string, string | undefined>;
  /** Where to look when no path is given; `/etc/fleet/fleet.conf` unless a test says otherwise. */
  defaultPath?: string;
}

export interface LoadedConfig {
  config: FleetConfig;
  /** The config file read, or null when none was. */
  file: string | null;
  notices: ConfigNotice[];
}

/** Where an option's effective text came from: a file path or an environment variable name. */
interface RawValue {
  value: string;
  source: string;
}

export function loadConfig(opts: LoadConfigOptions): LoadedConfig {
  const notices: ConfigNotice[] = [];
  const file = chooseConfigFile(opts.path, opts.defaultPath ?? DEFAULT_CONFIG_PATH, notices);
  const fromFile = file === null ? new Map<string, string>() : readConfigFile(file, notices);

  const raw = new Map<OptionName, RawValue>();
  for (const name of OPTION_NAMES) {
    const envName = `FLEET_${name.toUpperCase()}`;
    const envValue = opts.env[envName];
    const fileValue = fromFile.get(name);
    // A variable that is set counts even when empty, as with Go's os.LookupEnv.
    if (envValue !== undefined) {
      raw.set(name, { value: envValue, source: envName });
    } else if (fileValue !== undefined && file !== null) {
      raw.set(name, { value: fileValue, source: file });
    }
  }

  const parsed = optionsSchema.safeParse(
    Object.fromEntries([...raw].map(([name, { value }]) => [name, value])),
  );
  if (!parsed.success) throw new ConfigError(describeBadValues(parsed.error, raw));

  const options = parsed.data;
  if (options.verify_units) {
    notices.push({
      level: 'error',
      msg: 'Config option verify_units is no longer supported - ignoring',
    });
  }
  if (options.authorized_keys_file !== '') {
    notices.push({
      level: 'error',
      msg: 'Config option authorized_keys_file is no longer supported - ignoring',
    });
  }
  return { config: toFleetConfig(options), file, notices };
}

function chooseConfigFile(
  givenPath: string | undefined,
  defaultPath: string,
  notices: ConfigNotice[],
): string | null {
  if (givenPath !== undefined && givenPath !== '') {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(givenPath).isDirectory();
    } catch (error) {
      throw new ConfigError(`Unable to use config file ${givenPath}: ${describeFsError(error)}`);
    }
    if (isDirectory) {
      throw new ConfigError(`Provided config ${givenPath} is a directory, not a file`);
    }
    notices.push({ level: 'info', msg: `Using provided config file ${givenPath}` });
    return givenPath;
  }

  let isDirectory: boolean;
  try {
    isDirectory = statSync(defaultPath).isDirectory();
  } catch {
    notices.push({
      level: 'info',
      msg: 'No provided or default config file found - proceeding without',
    });
    return null;
  }
  // fleet read a directory here as an empty file; saying so is kinder than silence.
  if (isDirectory) {
    notices.push({
      level: 'warn',
      msg: `Default config file ${defaultPath} is a directory, not a file - proceeding without`,
    });
    return null;
  }
  notices.push({ level: 'info', msg: `Using default config file ${defaultPath}` });
  return defaultPath;
}

/**
 * The file's top-level keys. Those naming no option are dropped with a warning, where fleet
 * said nothing.
 */
function readConfigFile(path: string, notices: ConfigNotice[]): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`Unable to use config file ${path}: ${describeFsError(error)}`);
  }
  let values: Map<string, string>;
  try {
    values = parseIni(text);
  } catch (error) {
    if (error instanceof IniSyntaxError) {
      throw new ConfigError(`Unable to use config file ${path}: ${error.message}`);
    }
    throw error;
  }
  for (const key of values.keys()) {
    if (!isOptionName(key)) {
      notices.push({ level: 'warn', msg: `Ignoring unknown config option ${key} in ${path}` });
    }
  }
  return values;
}

/** One message naming every bad option, its source, its text and what was expected. */
function describeBadValues(error: z.ZodError, raw: ReadonlyMap<OptionName, RawValue>): string {
  return error.issues
    .map((issue) => {
      const name = issue.path[0] as OptionName;
      // Built-in defaults always parse, so a bad value always has a source.
      const { value, source } = raw.get(name)!;
      const given = `invalid value ${JSON.stringify(value)} for ${name} (from ${source})`;
      return `${given}: ${issue.message}`;
    })
    .join('; ');
}

/** A file system error in the words fleet logged: `stat /x: no such file or directory`. */
function describeFsError(error: unknown): string {
  const { syscall, path, errno, code } = error as NodeJS.ErrnoException;
  if (syscall === undefined || path === undefined || errno === undefined) return String(error);
  const reason = getSystemErrorMap().get(errno)?.[1] ?? code;
  return `${syscall} ${path}: ${reason}`;
}
