import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import { formatTabbed } from '../table.js';
import { flagDescription, flagTerm, layoutFlagUsages } from './flag-usages.js';
import type { FlagSpec } from './flags.js';
import { CLI_NAME } from './specs.js';

/**
 * commander is CommonJS, and required as such: imported as ESM it would go through its ESM
 * wrapper and Node's scan of CommonJS exports, whose first use costs a cold start about
 * 4 ms (commander is the only CommonJS package fleetctl loads).
 */
const { Help, Option } = createRequire(import.meta.url)('commander') as typeof Commander;
type Command = Commander.Command;

/** The help sections flags are listed under: a command's own, and the root's persistent ones. */
export const OWN_FLAGS = 'OPTIONS';
export const GLOBAL_FLAGS = 'GLOBAL OPTIONS';

/** A commander option for one of fleet's pflag flags, carrying its declaration. */
export class FlagOption extends Option {
  constructor(
    readonly spec: FlagSpec,
    heading: typeof OWN_FLAGS | typeof GLOBAL_FLAGS,
  ) {
    // A boolean's value is optional so that `--flag=false` parses; scanPflag hands a bare
    // boolean flag over as `--flag=true`, so it never takes the next argument.
    super(
      spec.kind === 'bool' ? `--${spec.name} [bool]` : `--${spec.name} <${spec.kind}>`,
      spec.usage,
    );
    this.helpGroup(heading);
    if (spec.hidden === true) this.hideHelp();
  }
}

/** fleet's `descToLines`: the text trimmed of blank space at both ends, split at newlines. */
function descriptionLines(text: string): string[] {
  return text.replace(/^[\n\t ]+|[\n\t ]+$/g, '').split('\n');
}

function flagOf(option: Commander.Option): FlagOption {
  if (!(option instanceof FlagOption)) throw new Error(`${option.flags} is not a fleet flag`);
  return option;
}

/**
 * fleet v1.0's usage template (NAME, USAGE, VERSION, COMMANDS, DESCRIPTION, OPTIONS,
 * GLOBAL OPTIONS) as commander's help, written through the same tab writer as fleet's
 * tables. It serves as help (`help`, `--help`) and as the usage printed after a flag error.
 * cobra's root command is the hidden leaf named `fleetctl`; its commands are its siblings.
 */
export class FleetHelp extends Help {
  constructor(private readonly version: string) {
    super();
  }

  /** cobra's `UseLine`: a subcommand's usage is prefixed with the root's name. */
  override commandUsage(cmd: Command): string {
    return cmd.name() === CLI_NAME ? cmd.usage() : `${CLI_NAME} ${cmd.usage()}`;
  }

  override subcommandTerm(cmd: Command): string {
    return cmd.name();
  }

  override subcommandDescription(cmd: Command): string {
    return cmd.summary();
  }

  /** pflag's left part, `      --name type`. */
  override optionTerm(option: Commander.Option): string {
    return flagTerm(flagOf(option).spec);
  }

  override optionDescription(option: Commander.Option): string {
    return flagDescription(flagOf(option).spec);
  }

  override formatHelp(cmd: Command, helper: Commander.Help): string {
    const sections: string[] = [];
    sections.push(`NAME:\n\t${cmd.name()} - ${cmd.summary()}\n`);
    sections.push(`USAGE:\n\t${helper.commandUsage(cmd)}\n`);
    if (cmd.name() === CLI_NAME) {
      sections.push(`VERSION:\n\t${this.version}\n`);
      const commands = cmd.parent === null ? [] : helper.visibleCommands(cmd.parent);
      const rows = commands.map(
        (sub) => `\t${helper.subcommandTerm(sub)}\t${helper.subcommandDescription(sub)}\n`,
      );
      sections.push(`COMMANDS:\n${rows.join('')}`);
    }
    const description = helper.commandDescription(cmd);
    if (description !== '') {
      const lines = descriptionLines(description).map((line) => `\t${line}\n`);
      sections.push(`DESCRIPTION:\n${lines.join('')}`);
    }
    const options = helper.visibleOptions(cmd);
    for (const heading of [OWN_FLAGS, GLOBAL_FLAGS]) {
      const listed = options.filter((option) => option.helpGroupHeading === heading);
      if (listed.length === 0) continue;
      const usages = layoutFlagUsages(
        listed.map((option) => ({
          name: option.name(),
          term: helper.optionTerm(option),
          description: helper.optionDescription(option),
        })),
      );
      sections.push(`${heading}:\n${usages}`);
    }
    return formatTabbed(`${sections.join('\n')}\n`);
  }
}
