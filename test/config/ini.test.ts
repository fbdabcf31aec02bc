import { describe, expect, it } from 'vitest';
import { IniSyntaxError, parseIni } from '../../src/config/ini.js';

function parse(...lines: string[]): Record<string, string> {
  return Object.fromEntries(parseIni(lines.join('\n')));
}

describe('parseIni (the goini dialect fleet read fleet.conf with)', () => {
  it('takes double- and single-quoted values verbatim, comment characters included', () => {
    expect(parse(`a = "x # y ; z"`, `b='  spaced  '`, `c=""`)).toEqual({
      a: 'x # y ; z',
      b: '  spaced  ',
      c: '',
    });
  });

  it('trims unquoted values and cuts them at the first # or ;', () => {
    expect(parse('a =   plain value   # note', 'b=x;y', 'c\t=\tt', 'd = k=v')).toEqual({
      a: 'plain value',
      b: 'x',
      c: 't',
      d: 'k=v',
    });
  });

  it('keeps the quotes of a quoted value followed by anything, as goini did', () => {
    expect(parse(`a = "q" # note`, `b = "unterminated`)).toEqual({ a: '"q"', b: '"unterminated' });
  });

  it('reads a key with nothing or only a comment after = as empty', () => {
    expect(parse('a =', 'b = # nothing', 'c=;')).toEqual({ a: '', b: '', c: '' });
  });

  it('skips comment lines starting with # or ; after leading whitespace, and blank lines', () => {
    expect(parse('# comment', '   ; comment = not a key', '', '   \t', 'a=1')).toEqual({ a: '1' });
  });

  it('joins a line ending in a backslash with the next, trimmed, line', () => {
    expect(parse('metadata = region=west,\\', '    az=b', 'next = 1')).toEqual({
      metadata: 'region=west,az=b',
      next: '1',
    });
  });

  it('lets a comment line ending in a backslash swallow the next line', () => {
    expect(parse('# comment \\', 'hidden = 1', 'shown = 2')).toEqual({ shown: '2' });
  });

  it('rejects a continuation on the last line', () => {
    expect(() => parseIni('a = 1\nb = 2 \\\n')).toThrow(
      'iniparser: line continuation at end of file at line 2: "b = 2 "',
    );
  });

  it('ignores keys inside sections but still rejects their syntax errors', () => {
    expect(parse('a = 1', '[Section]', 'b = 2', '[other]', 'c = 3')).toEqual({ a: '1' });
    expect(() => parseIni('[section]\nnot valid')).toThrow(IniSyntaxError);
  });

  it('returns to the top level after an empty [] header', () => {
    expect(parse('a = 1', '[section]', 'b = 2', '[ ]', 'c = 3')).toEqual({ a: '1', c: '3' });
  });

  it('lower-cases keys but not values', () => {
    expect(parse('Public_IP = 10.0.0.1', 'METADATA = Region=West')).toEqual({
      public_ip: '10.0.0.1',
      metadata: 'Region=West',
    });
  });

  it('lets the last duplicate win', () => {
    expect(parse('a = 1', 'A = 2', 'a = 3')).toEqual({ a: '3' });
  });

  it('accepts CRLF line endings and a byte-order mark', () => {
    expect(Object.fromEntries(parseIni('\ufeffa = 1\r\nb = "2"\r\n'))).toEqual({ a: '1', b: '2' });
  });

  it('reports a syntax error with its line number and text', () => {
    const attempt = () => parseIni('a = 1\n\n  this is not valid  \nb = 2');
    expect(attempt).toThrow('iniparser: syntax error at line 3: "this is not valid"');
    try {
      attempt();
    } catch (error) {
      expect(error).toBeInstanceOf(IniSyntaxError);
      expect(error).toMatchObject({ line: 3, text: 'this is not valid' });
    }
  });

  it('rejects keys containing spaces and lines without a key', () => {
    expect(() => parseIni('public ip = 1')).toThrow('at line 1: "public ip = 1"');
    expect(() => parseIni('= 1')).toThrow(IniSyntaxError);
    expect(() => parseIni('[unclosed')).toThrow(IniSyntaxError);
  });

  it('numbers errors by physical line even after continued lines', () => {
    expect(() => parseIni('a = 1,\\\n2\nbad')).toThrow('at line 3: "bad"');
  });
});
