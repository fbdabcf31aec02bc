import { formatTabbed } from '../table.js';
import { flagUsages } from './flag-usages.js';
import { CLI_NAME, type CommandSpec, ROOT, SUBCOMMANDS } from './specs.js';

/** cobra's `UseLine`: a subcommand's usage is prefixed with the root's name. */
function useLine(command: CommandSpec): string {
  return command === ROOT ? command.use : `${CLI_NAME} ${command.use}`;
}

/** fleet's `descToLines`: the text trimmed of blank space at both ends, split at newlines. */
function descriptionLines(text: string): string[] {
  return text.replace(/^[\n\t ]+|[\n\t ]+$/g, '').split('\n');
}

/**
 * fleet v1.0's usage template (NAME, USAGE, VERSION, COMMANDS, DESCRIPTION, OPTIONS,
 * GLOBAL OPTIONS), written through the same tab writer as its tables. It serves as help
 * (`help`, `--help`) and as the usage printed after a flag error.
 */
export function renderUsage(command: CommandSpec, version: string): string {
  const sections: string[] = [];
  sections.push(`NAME:\n\t${command.name} - ${command.short}\n`);
  sections.push(`USAGE:\n\t${useLine(command)}\n`);
  if (command === ROOT) {
    sections.push(`VERSION:\n\t${version}\n`);
    const rows = SUBCOMMANDS.map((sub) => `\t${sub.name}\t${sub.short}\n`).join('');
    sections.push(`COMMANDS:\n${rows}`);
  }
  if (command.long !== '') {
    const lines = descriptionLines(command.long).map((line) => `\t${line}\n`);
    sections.push(`DESCRIPTION:\n${lines.join('')}`);
  }
  if (command.flags.length > 0) sections.push(`OPTIONS:\n${flagUsages(command.flags)}`);
  if (command !== ROOT) sections.push(`GLOBAL OPTIONS:\n${flagUsages(ROOT.flags)}`);
  return formatTabbed(`${sections.join('\n')}\n`);
}
