import { describe, expect, it } from 'vitest';
import { validateUnitOptions } from '../../src/job/validate-options.js';

const xfleet = (...pairs: Array<[string, string]>) =>
  pairs.map(([name, value]) => ({ section: 'X-Fleet', name, value }));

describe('option-set validation', () => {
  it.each([
    [
      xfleet(['MachineID', 'abc'], ['MachineOf', 'a.service']),
      'MachineID cannot be used with Peers',
    ],
    [xfleet(['MachineID', 'abc'], ['Conflicts', 'a*']), 'MachineID cannot be used with Conflicts'],
    [xfleet(['MachineID', 'abc'], ['Global', 'true']), 'MachineID cannot be used with Global'],
    [
      xfleet(['MachineID', 'abc'], ['Replaces', 'a.service']),
      'MachineID cannot be used with Replaces',
    ],
    [xfleet(['Global', 'true'], ['MachineOf', 'a.service']), 'Global cannot be used with Peers'],
    [xfleet(['Global', 'true'], ['Replaces', 'a.service']), 'Global cannot be used with Replaces'],
    [
      xfleet(['Conflicts', 'a.service'], ['Replaces', 'b.service']),
      'Conflicts cannot be used with Replaces',
    ],
    [
      xfleet(['MachineOf', 'a.service'], ['Conflicts', 'a*']),
      'unresolvable requirements: peer "a.service" matches conflict "a*"',
    ],
    [
      xfleet(['MachineOf', 'a.service'], ['Replaces', '*.service']),
      'unresolvable requirements: peer "a.service" matches replace "*.service"',
    ],
  ])('refuses %j', (options, message) => {
    expect(validateUnitOptions(options)).toBe(message);
  });

  it('allows Global with MachineMetadata and with Conflicts', () => {
    expect(validateUnitOptions(xfleet(['Global', 'true'], ['MachineMetadata', 'a=b']))).toBeNull();
    expect(validateUnitOptions(xfleet(['Global', 'true'], ['Conflicts', 'x*']))).toBeNull();
  });

  it('reports a value that makes the canonical text unparseable', () => {
    const options = [{ section: 'Service', name: 'ExecStart', value: 'x'.repeat(3000) }];
    expect(validateUnitOptions(options)).toBe('line too long (max 2048 bytes)');
  });
});
