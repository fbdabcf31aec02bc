import { describe, expect, it } from 'vitest';
import {
  mangleUnitArgument,
  unitNameInfo,
  validateSubmittedUnitName,
  validateUnitName,
} from '../../src/unit/name.js';

describe('unit names', () => {
  it.each([
    ['', 'unit name cannot be empty'],
    [`${'a'.repeat(250)}.service`, 'unit name exceeds maximum length (256)'],
    ['foo', 'unit name must contain "."'],
    ['foo.', 'unit name cannot end in "."'],
    ['foo.bar', 'invalid unit type: "bar"'],
    ['foo@.mount', 'invalid unit type for template: "mount"'],
    ['fo/o.service', "invalid character '/' in unit name"],
    ['fo\to.service', "invalid character '\\t' in unit name"],
    ['fo\u0000o.service', "invalid character '\\x00' in unit name"],
    ['föo.service', "invalid character 'ö' in unit name"],
    ['@foo.service', 'unit name cannot start in "@"'],
  ])('refuses %j with the original message', (name, message) => {
    expect(validateUnitName(name)).toBe(message);
  });

  it.each(['foo.service', 'foo@.service', 'foo@bar.socket', 'a:b_c-d\\e.timer', 'x.target'])(
    'accepts %j',
    (name) => {
      expect(validateUnitName(name)).toBeNull();
    },
  );

  describe('a name about to be stored', () => {
    const fileNameLimit = 'unit name exceeds maximum file name length (255 bytes)';

    it('refuses a 256-byte name that fleet accepted (vector name-len-256), as no file can have it', () => {
      const name = `${'a'.repeat(248)}.service`;
      expect(validateUnitName(name)).toBeNull();
      expect(validateSubmittedUnitName(name)).toBe(fileNameLimit);
    });

    it("accepts 255 bytes and keeps fleet's message past 256", () => {
      expect(validateSubmittedUnitName(`${'a'.repeat(247)}.service`)).toBeNull();
      expect(validateSubmittedUnitName(`${'a'.repeat(249)}.service`)).toBe(
        'unit name exceeds maximum length (256)',
      );
      expect(validateSubmittedUnitName('foo')).toBe('unit name must contain "."');
    });
  });

  it('splits instances at the first @ and the last dot', () => {
    expect(unitNameInfo('foo.1@bar@baz.service')).toEqual({
      fullName: 'foo.1@bar@baz.service',
      name: 'foo.1@bar@baz',
      prefix: 'foo.1',
      instance: 'bar@baz',
      template: 'foo.1@.service',
      isInstance: true,
      isTemplate: false,
    });
    expect(unitNameInfo('foo@.service')?.isTemplate).toBe(true);
    expect(unitNameInfo('nodot')).toBeNull();
  });

  it('mangles fleetctl arguments to a base name with a recognised type', () => {
    expect(mangleUnitArgument('units/hello')).toBe('hello.service');
    expect(mangleUnitArgument('/tmp/web.socket')).toBe('web.socket');
    expect(mangleUnitArgument('foo.target')).toBe('foo.target.service');
  });
});
