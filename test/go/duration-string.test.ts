import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../src/go/duration.js';
import { formatGoDuration } from '../../src/go/duration-string.js';

describe('Go duration text of whole milliseconds', () => {
  it.each([
    [0, '0s'],
    [250, '250ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [10_000, '10s'],
    [60_000, '1m0s'],
    [120_000, '2m0s'],
    [90_250, '1m30.25s'],
    [3_600_000, '1h0m0s'],
    [3_723_004, '1h2m3.004s'],
    [-1500, '-1.5s'],
  ])('%d ms is %s, as time.Duration.String writes it, and parses back', (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
    expect(parseGoDuration(text)).toBe(ms);
  });
});
