import { parseGoBool, parseGoFloat, parseGoInt } from '../../go/strconv.js';
import { quoteString } from '../../go/text.js';

/** The pflag value types fleetctl's flags use. */
export type FlagKind = 'bool' | 'string' | 'int' | 'float';

export type FlagValue = boolean | string | number;

/** One pflag flag as fleet v1.0 registered it. */
export interface FlagSpec {
  name: string;
  kind: FlagKind;
  /** The default as pflag prints it (`DefValue`). */
  defaultText: string;
  usage: string;
  /**
   * The Go variable the flag is bound to. fleet binds `--full` and `--l`, `--help` and
   * `--h`, `--key-file` and `--etcd-keyfile` to one variable each, so setting either sets both.
   */
  variable: string;
  /** Left out of every help output, which is recorded byte for byte: our flags, not fleet's. */
  hidden?: true;
}

function spec(kind: FlagKind, name: string, defaultText: string, usage: string, variable?: string) {
  return { name, kind, defaultText, usage, variable: variable ?? name } satisfies FlagSpec;
}

export function boolFlag(name: string, usage: string, variable?: string): FlagSpec {
  return spec('bool', name, 'false', usage, variable);
}

export function trueFlag(name: string, usage: string): FlagSpec {
  return spec('bool', name, 'true', usage);
}

export function stringFlag(name: string, defaultText: string, usage: string, variable?: string) {
  return spec('string', name, defaultText, usage, variable);
}

/** A string flag of ours, which no help lists. */
export function hiddenStringFlag(name: string, usage: string): FlagSpec {
  return { ...spec('string', name, '', usage), hidden: true };
}

export function intFlag(name: string, defaultValue: number, usage: string): FlagSpec {
  return spec('int', name, String(defaultValue), usage);
}

export function floatFlag(name: string, defaultValue: number, usage: string): FlagSpec {
  return spec('float', name, String(defaultValue), usage);
}

/** A flag-parsing error with pflag's message (`unknown flag: --bogus`). */
export class FlagError extends Error {
  override name = 'FlagError';
}

/** pflag's `ErrHelp`: `-h`, which fleet never registered, asks for the command's help. */
export class HelpRequested extends Error {
  override name = 'HelpRequested';
}

/** Converts flag text to a value, or returns the Go `strconv` error text. */
function convert(kind: FlagKind, text: string): FlagValue | { error: string } {
  switch (kind) {
    case 'string':
      return text;
    case 'bool': {
      const value = parseGoBool(text);
      return value ?? { error: `strconv.ParseBool: parsing ${quoteString(text)}: invalid syntax` };
    }
    case 'int': {
      const value = parseGoInt(text);
      return value ?? { error: `strconv.ParseInt: parsing ${quoteString(text)}: invalid syntax` };
    }
    case 'float': {
      const value = parseGoFloat(text);
      return value ?? { error: `strconv.ParseFloat: parsing ${quoteString(text)}: invalid syntax` };
    }
  }
}

/**
 * The values of a command's flags, keyed by the variable they are bound to, starting at
 * their defaults. Commands read flags they do not define as their zero value, as Go's
 * `Flags().GetBool` of an unknown flag does.
 */
export class FlagValues {
  private readonly values = new Map<string, FlagValue>();

  constructor(specs: readonly FlagSpec[]) {
    for (const flag of specs) {
      const value = convert(flag.kind, flag.defaultText);
      if (typeof value !== 'object') this.values.set(flag.variable, value);
    }
  }

  /** Sets a flag from text, as `FlagSet.Set` does; returns the conversion error, if any. */
  set(flag: FlagSpec, text: string): string | null {
    const value = convert(flag.kind, text);
    if (typeof value === 'object') return value.error;
    this.values.set(flag.variable, value);
    return null;
  }

  bool(variable: string): boolean {
    const value = this.values.get(variable);
    return typeof value === 'boolean' ? value : false;
  }

  string(variable: string): string {
    const value = this.values.get(variable);
    return typeof value === 'string' ? value : '';
  }

  number(variable: string): number {
    const value = this.values.get(variable);
    return typeof value === 'number' ? value : 0;
  }
}

/** A command's flags by name, for cobra's command lookup and the pflag syntax shim. */
export class FlagSet {
  private readonly byName: ReadonlyMap<string, FlagSpec>;

  constructor(readonly flags: readonly FlagSpec[]) {
    this.byName = new Map(flags.map((flag) => [flag.name, flag]));
  }

  lookup(name: string): FlagSpec | undefined {
    return this.byName.get(name);
  }
}
