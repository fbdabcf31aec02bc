import { describe, expect, it } from 'vitest';
import { formatLine } from '../../src/server/log.js';

describe('fleetd log lines', () => {
  it('renders the message verbatim after the level', () => {
    expect(
      formatLine(JSON.stringify({ level: 30, time: 1, msg: 'Engine leadership acquired' }), false),
    ).toBe('INFO Engine leadership acquired\n');
  });

  it('carries an sd-daemon priority for the journal, so levels survive', () => {
    expect(formatLine(JSON.stringify({ level: 50, msg: 'x' }), true)).toBe('<3>ERROR x\n');
    expect(formatLine(JSON.stringify({ level: 40, msg: 'x' }), true)).toBe('<4>WARN x\n');
    expect(formatLine(JSON.stringify({ level: 20, msg: 'x' }), true)).toBe('<7>DEBUG x\n');
  });

  it('puts structured fields and the error message after the message', () => {
    const line = JSON.stringify({
      level: 40,
      msg: 'bad record',
      key: '/k',
      err: { message: 'not JSON' },
    });
    expect(formatLine(line, false)).toBe('WARN bad record key=/k err="not JSON"\n');
  });
});
