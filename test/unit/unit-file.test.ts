import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnitFileParseError } from '../../src/unit/deserialize.js';
import { splitMultivalue, UnitFile } from '../../src/unit/unit-file.js';

describe('UnitFile', () => {
  it('hashes the empty unit to the SHA-1 of the empty string', () => {
    const unit = UnitFile.parse('');
    expect(unit.hash).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    expect(unit.hashShort).toBe('da39a3e');
  });

  it('hashes the canonical text, so formatting differences do not change the hash', () => {
    const tidy = UnitFile.parse('[Service]\nExecStart=/bin/sleep 100\n');
    const messy = UnitFile.parse('# c\n[Service]\n  ExecStart =  /bin/sleep 100  \n\n');
    expect(messy.hash).toBe('1c6fb6f3684bafb0c173d8b8b957ceff031180c1');
    expect(messy.hash).toBe(tidy.hash);
  });

  it('merges repeated sections in order of first appearance with a blank line between', () => {
    const unit = UnitFile.parse('[A]\nx=1\n[B]\ny=2\n[A]\nz=3\n');
    expect(unit.serialized).toBe('[A]\nx=1\nz=3\n\n[B]\ny=2\n');
  });

  it('takes the description from the first [Unit] Description', () => {
    const unit = UnitFile.parse('[Unit]\nDescription=first\nDescription=second\n');
    expect(unit.description).toBe('first');
  });

  it('splits quoted [X-Fleet] values but leaves other sections whole', () => {
    const unit = UnitFile.parse('[X-Fleet]\nMachineMetadata="a=b" "c=d"\n[Unit]\nX="a" "b"\n');
    expect(unit.values('X-Fleet', 'MachineMetadata')).toEqual(['a=b', 'c=d']);
    expect(unit.values('Unit', 'X')).toEqual(['"a" "b"']);
  });

  it('drops quotes without honouring backslash escapes in multi-values', () => {
    expect(splitMultivalue('"foo\\"bar"')).toEqual(['foo\\bar']);
  });

  it('re-parses its own canonical text to the same hash', () => {
    const line = fc.tuple(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,8}$/),
      fc.stringMatching(/^[A-Za-z0-9=/ ."-]{1,30}$/),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('Unit', 'Service', 'X-Fleet'), line)),
        (rows) => {
          const text = rows
            .map(([section, [name, value]]) => `[${section}]\n${name}=${value}\n`)
            .join('');
          let unit: UnitFile;
          try {
            unit = UnitFile.parse(text);
          } catch (err) {
            expect(err).toBeInstanceOf(UnitFileParseError);
            return;
          }
          expect(UnitFile.parse(unit.serialized).hash).toBe(unit.hash);
        },
      ),
    );
  });
});
