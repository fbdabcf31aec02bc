import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../src/go/duration.js';

describe('parseGoDuration (port of Go time.ParseDuration)', () => {
  it.each([
    ['3s', 3_000],
    ['1.5h', 5_400_000],
    ['-1m', -60_000],
    ['300ms', 300],
    ['1h30m', 5_400_000],
    ['30s', 30_000],
    ['+5s', 5_000],
    ['5.s', 5_000],
    ['.5s', 500],
    ['1.004s', 1_004],
    ['10.5s4m', 250_500],
    ['-2m3.4s', -123_400],
    ['39h9m14.425s', 140_954_425],
    ['15m', 900_000],
    ['16h', 57_600_000],
    ['0.3333333333333333333h', 1_200_000],
    ['0.100000000000000000000h', 360_000],
  ])('parses %j as %d ms', (input, ms) => {
    expect(parseGoDuration(input)).toBe(ms);
  });

  it.each(['0', '-0', '+0'])('accepts a bare %j without a unit as zero', (input) => {
    expect(parseGoDuration(input)).toBe(0);
  });

  it('knows every unit Go knows, including both spellings of micro', () => {
    expect(parseGoDuration('10ns')).toBeCloseTo(0.00001, 12);
    expect(parseGoDuration('11us')).toBeCloseTo(0.011, 12);
    expect(parseGoDuration('12\u00b5s')).toBeCloseTo(0.012, 12);
    expect(parseGoDuration('12\u03bcs')).toBeCloseTo(0.012, 12);
    expect(parseGoDuration('1h2m3s4ms5us6ns')).toBeCloseTo(3_723_004.005006, 6);
  });

  it('computes fractions of an hour in float64 like Go (49m48.372539827s)', () => {
    expect(parseGoDuration('0.830103483285477580700h')).toBeCloseTo(2_988_372.539827, 6);
  });

  it('accepts the int64 extremes and rejects one nanosecond beyond them', () => {
    expect(parseGoDuration('9223372036854775807ns')).toBeCloseTo(9_223_372_036_854.775, 0);
    expect(parseGoDuration('-9223372036854775808ns')).toBeCloseTo(-9_223_372_036_854.775, 0);
    expect(() => parseGoDuration('9223372036854775808ns')).toThrow(
      'time: invalid duration "9223372036854775808ns"',
    );
    expect(() => parseGoDuration('-9223372036854775809ns')).toThrow(
      'time: invalid duration "-9223372036854775809ns"',
    );
    expect(() => parseGoDuration('3000000h')).toThrow('time: invalid duration "3000000h"');
    expect(() => parseGoDuration('9223372036854ms775us808ns')).toThrow('time: invalid duration');
  });

  it.each([
    ['', 'time: invalid duration ""'],
    ['3', 'time: missing unit in duration "3"'],
    ['.s', 'time: invalid duration ".s"'],
    ['-.s', 'time: invalid duration "-.s"'],
    ['-', 'time: invalid duration "-"'],
    ['s', 'time: invalid duration "s"'],
    ['.', 'time: invalid duration "."'],
    ['abc', 'time: invalid duration "abc"'],
    ['00', 'time: missing unit in duration "00"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['3s ', 'time: unknown unit "s " in duration "3s "'],
    ['1s"', 'time: unknown unit "s\\"" in duration "1s\\""'],
  ])("rejects %j with Go's message", (input, message) => {
    expect(() => parseGoDuration(input)).toThrow(message);
  });

  it('quotes non-ASCII and control characters byte by byte, as Go does', () => {
    expect(() => parseGoDuration('1\u00b5')).toThrow(
      'time: unknown unit "\\xc2\\xb5" in duration "1\\xc2\\xb5"',
    );
    expect(() => parseGoDuration('\t1s')).toThrow('time: invalid duration "\\x091s"');
  });
});
