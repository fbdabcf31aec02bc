import { describe, expect, it } from 'vitest';
import { parseFleetdArgs, usage } from '../../src/server/cli.js';

describe('fleetd command line', () => {
  it.each([[['--version']], [['-version']], [['version']], [['-version=true']]])(
    'prints the version for %j',
    (args) => {
      expect(parseFleetdArgs(args, 'fleetd')).toEqual({ action: 'version' });
    },
  );

  it.each([
    [['--config', '/etc/x.conf'], '/etc/x.conf'],
    [['-config=/etc/x.conf'], '/etc/x.conf'],
    [['--config=/etc/x.conf'], '/etc/x.conf'],
    [[], undefined],
  ])('runs with the config file of %j', (args, configPath) => {
    expect(parseFleetdArgs(args, 'fleetd')).toEqual({ action: 'run', configPath });
  });

  it('refuses a positional argument with the original hint, exit 1', () => {
    expect(parseFleetdArgs(['start'], '/usr/bin/fleetd')).toEqual({
      action: 'fail',
      stderr: `/usr/bin/fleetd takes no arguments. Did you mean to invoke fleetctl instead?\n${usage('/usr/bin/fleetd')}`,
      exitCode: 1,
    });
  });

  it('refuses an unknown flag as Go flag does, exit 2', () => {
    const result = parseFleetdArgs(['--bogus'], 'fleetd');
    expect(result).toMatchObject({ action: 'fail', exitCode: 2 });
    expect(
      result.action === 'fail' &&
        result.stderr.startsWith('flag provided but not defined: -bogus\n'),
    ).toBe(true);
  });

  it('answers -h with the usage and exit 2, as the Go of fleet 1.0 did', () => {
    expect(parseFleetdArgs(['-h'], 'fleetd')).toEqual({
      action: 'fail',
      stderr: usage('fleetd'),
      exitCode: 2,
    });
  });

  it('lays the usage out as Go printed it', () => {
    expect(usage('fleetd')).toBe(
      'fleetd is the server component of fleet, a simple orchestration system for scheduling systemd units in a cluster.\n' +
        'Usage of fleetd:\n' +
        '  -config string\n' +
        '    \tPath to config file. Fleet will look for a config at /etc/fleet/fleet.conf by default.\n' +
        '  -version\n' +
        '    \tPrint the version and exit\n',
    );
  });
});
