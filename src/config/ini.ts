/**
 * The INI dialect of the `goini` package that fleet read `fleet.conf` with. Only keys above
 * the first `[section]` header (or after an empty `[]` one) reach fleet; keys inside sections
 * are parsed, so their syntax errors still count, and dropped.
 */

import { trimGoSpace } from '../go/text.js';

/** A line `goini` would reject; fleetd refuses to start on it. */
export class IniSyntaxError extends Error {
  constructor(
    /** 1-based number of the physical line where the offending (possibly continued) line starts. */
    readonly line: number,
    /** The offending line, trimmed and with continuations joined. */
    readonly text: string,
    reason = 'syntax error',
  ) {
    super(`iniparser: ${reason} at line ${line}: ${JSON.stringify(text)}`);
    this.name = 'IniSyntaxError';
  }
}

// The four shapes goini tries in order. Quoted values must run to the end of the line, so
// `a = "b" # note` falls through to the unquoted shape and keeps its quotes.
const DOUBLE_QUOTED = /^([^= \t]+)[ \t]*=[ \t]*"([^"]*)"$/;
const SINGLE_QUOTED = /^([^= \t]+)[ \t]*=[ \t]*'([^']*)'$/;
const UNQUOTED = /^([^= \t]+)[ \t]*=[ \t]*([^#;]+)/;
const EMPTY_VALUE = /^([^= \t]+)[ \t]*=[ \t]*(?:[#;].*)?/;

/** Parses `fleet.conf` text into its top-level keys (lower-cased), the last duplicate winning. */
export function parseIni(text: string): Map<string, string> {
  const lines = text.replace(/^\ufeff/, '').split('\n');
  // A final newline ends the last line rather than starting an empty one, which matters for a
  // continuation on the last line: goini fails there with EOF.
  if (text.endsWith('\n')) lines.pop();

  const values = new Map<string, string>();
  let atTopLevel = true;
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let line = trimGoSpace(lines[i]!);
    while (line.endsWith('\\')) {
      line = line.slice(0, -1);
      i++;
      const next = lines[i];
      if (next === undefined) {
        throw new IniSyntaxError(startLine, line, 'line continuation at end of file');
      }
      line += trimGoSpace(next);
    }

    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      atTopLevel = trimGoSpace(line.slice(1, -1)) === '';
      continue;
    }

    const entry = parseKeyValue(line);
    if (entry === undefined) throw new IniSyntaxError(startLine, line);
    if (atTopLevel) values.set(entry.key.toLowerCase(), entry.value);
  }
  return values;
}

function parseKeyValue(line: string): { key: string; value: string } | undefined {
  const quoted = DOUBLE_QUOTED.exec(line) ?? SINGLE_QUOTED.exec(line);
  if (quoted !== null) return { key: quoted[1]!, value: quoted[2]! };
  const unquoted = UNQUOTED.exec(line);
  if (unquoted !== null) return { key: unquoted[1]!, value: trimGoSpace(unquoted[2]!) };
  const empty = EMPTY_VALUE.exec(line);
  if (empty !== null) return { key: empty[1]!, value: '' };
  return undefined;
}
