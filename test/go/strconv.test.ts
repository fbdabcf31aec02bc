import { describe, expect, it } from 'vitest';
import { parseGoBool, parseGoFloat, parseGoInt } from '../../src/go/strconv.js';

describe('Go value syntaxes of fleet options', () => {
  it('parses booleans exactly as strconv.ParseBool', () => {
    for (const yes of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseGoBool(yes)).toBe(true);
    for (const no of ['0', 'f', 'F', 'FALSE', 'false', 'False'])
      expect(parseGoBool(no)).toBe(false);
    for (const bad of ['', 'yes', 'no', 'on', 'tRUE', ' true', '2']) {
      expect(parseGoBool(bad)).toBeUndefined();
    }
  });

  it('parses integers in Go base 0: decimal, 0x hex, leading-zero octal, with a sign', () => {
    expect(parseGoInt('42')).toBe(42);
    expect(parseGoInt('-7')).toBe(-7);
    expect(parseGoInt('+7')).toBe(7);
    expect(parseGoInt('0')).toBe(0);
    expect(parseGoInt('0x10')).toBe(16);
    expect(parseGoInt('0XfF')).toBe(255);
    expect(parseGoInt('010')).toBe(8);
    expect(parseGoInt('-010')).toBe(-8);
  });

  it('rejects what Go 1.7 rejected, including later Go syntaxes and int64 overflow', () => {
    for (const bad of ['', ' 1', '1 ', '1.0', '08', '0x', '0b1', '0o7', '1_000', 'abc', '--1']) {
      expect(parseGoInt(bad)).toBeUndefined();
    }
    expect(parseGoInt('9223372036854775808')).toBeUndefined();
    expect(parseGoInt('-9223372036854775808')).toBe(Number(-(2n ** 63n)));
  });

  it('parses decimal floats and rejects the rest', () => {
    expect(parseGoFloat('1.0')).toBe(1);
    expect(parseGoFloat('2')).toBe(2);
    expect(parseGoFloat('.5')).toBe(0.5);
    expect(parseGoFloat('5.')).toBe(5);
    expect(parseGoFloat('-1.5e1')).toBe(-15);
    expect(parseGoFloat('1E-3')).toBe(0.001);
    for (const bad of ['', '.', '1s', ' 1', '0x1p-2', '1_0', 'inf', 'NaN', '1e400', 'e3']) {
      expect(parseGoFloat(bad)).toBeUndefined();
    }
  });
});
