import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deserializeUnitFile, UnitFileParseError } from '../../src/unit/deserialize.js';

function parseError(text: string): string {
  try {
    deserializeUnitFile(text);
  } catch (err) {
    expect(err).toBeInstanceOf(UnitFileParseError);
    return (err as Error).message;
  }
  throw new Error('expected a parse error');
}

describe('unit-file lexer', () => {
  it('reads options in file order and drops comments, blank lines and pre-section text', () => {
    const text =
      'junk before\n[Unit]\n# comment\nDescription = hi \n\n[Service]\nExecStart=/bin/true\n';
    expect(deserializeUnitFile(text)).toEqual([
      { section: 'Unit', name: 'Description', value: 'hi' },
      { section: 'Service', name: 'ExecStart', value: '/bin/true' },
    ]);
  });

  it('keeps the backslash and a newline when a value continues on the next line', () => {
    expect(deserializeUnitFile('[S]\nA=one \\\n  two\n')).toEqual([
      { section: 'S', name: 'A', value: 'one \\\n  two' },
    ]);
  });

  it('does not continue a CRLF line, so the next line is parsed as an option name', () => {
    expect(parseError('[S]\r\nA=one \\\r\ntwo\r\n')).toBe(
      'unexpected newline encountered while parsing option name',
    );
  });

  it('reports garbage after a section name as a Go byte slice with an empty section', () => {
    expect(parseError('[Unit] garbage\n')).toBe(
      'found garbage after section name : [103 97 114 98 97 103 101]',
    );
  });

  it('reports a section header without its closing bracket', () => {
    expect(parseError('[Unit\nA=b\n')).toBe('unable to find end of section');
  });

  it('reports an option line without "="', () => {
    expect(parseError('[Unit]\nnonsense upon stilts\n')).toBe(
      'unexpected newline encountered while parsing option name',
    );
  });

  it('reports an option name cut off by the end of the file as EOF', () => {
    expect(parseError('[Unit]\nDescription')).toBe('EOF');
  });

  it('treats U+00A0 and U+3000 as whitespace between options, as Go does', () => {
    expect(deserializeUnitFile('[S]\n\u00a0\u3000A=b\n')).toEqual([
      { section: 'S', name: 'A', value: 'b' },
    ]);
  });

  /** About `before` bytes of short options, then a 2105-byte line, as the recorded vectors do. */
  function longLineAfter(before: number): string {
    const shortLines = Array.from(
      { length: Math.floor(before / 9) },
      (_, i) => `K${String(i).padStart(5, '0')}=v\n`,
    );
    return `[Unit]\n${shortLines.join('')}Long=${'x'.repeat(2100)}\nAfter=x.service\n`;
  }

  it('rejects a 2105-byte line when the read buffer holds 2048 bytes of it without a newline', () => {
    expect(parseError(longLineAfter(2000))).toBe('line too long (max 2048 bytes)');
  });

  it('accepts the same line when it straddles a buffer refill, as go-systemd does', () => {
    const options = deserializeUnitFile(longLineAfter(2500));
    expect(options.find((option) => option.name === 'Long')?.value).toHaveLength(2100);
  });

  it('never throws anything but its own parse error, whatever the text', () => {
    const unitLike = fc.stringMatching(/^[[\]=#;\\ \t\r\nA-Za-z\u00a0é"]{0,200}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), unitLike), (text) => {
        try {
          deserializeUnitFile(text);
        } catch (err) {
          expect(err).toBeInstanceOf(UnitFileParseError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws anything but its own parse error on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), (bytes) => {
        try {
          deserializeUnitFile(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(UnitFileParseError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
