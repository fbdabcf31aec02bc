import { describe, expect, it } from 'vitest';
import { flagUsages } from '../../src/fleetctl/args/flag-usages.js';
import {
  boolFlag,
  FlagSet,
  floatFlag,
  intFlag,
  stringFlag,
} from '../../src/fleetctl/args/flags.js';
import { type Invocation, parseInvocation } from '../../src/fleetctl/args/invocation.js';
import { stripFlags } from '../../src/fleetctl/args/resolve.js';
import { COMMANDS, ROOT } from '../../src/fleetctl/args/specs.js';
import { levenshtein, suggestionsFor } from '../../src/fleetctl/args/suggestions.js';

function parse(argv: string[], env: Record<string, string> = {}): Invocation {
  return parseInvocation(argv, env);
}

function run(argv: string[], env: Record<string, string> = {}) {
  const invocation = parse(argv, env);
  if (invocation.kind !== 'run') throw new Error(`expected a run, got ${invocation.kind}`);
  return invocation;
}

describe('command resolution (cobra Find with prefix matching)', () => {
  it('finds a command by an unambiguous prefix', () => {
    expect(run(['list-unit-f']).command.name).toBe('list-unit-files');
    expect(run(['sub', 'x.service']).command.name).toBe('submit');
  });

  it('prefers an exact name over prefixes of longer names', () => {
    expect(run(['list-units']).command.name).toBe('list-units');
  });

  it('refuses an ambiguous prefix, suggesting the candidates', () => {
    expect(parse(['list-unit'])).toEqual({
      kind: 'unknown-command',
      error:
        'unknown command "list-unit" for "fleetctl"\n\nDid you mean this?\n\tlist-unit-files\n\tlist-units\n',
    });
  });

  it('suggests names within Levenshtein distance 2, case-insensitively', () => {
    expect(suggestionsFor('lst-units', COMMANDS)).toEqual(['list-units']);
    expect(suggestionsFor('STRAT', COMMANDS)).toEqual(['start']);
    expect(suggestionsFor('stopp', COMMANDS)).toEqual(['stop']);
    expect(suggestionsFor('bogus', COMMANDS)).toEqual([]);
    expect(levenshtein('kitten', 'sitting')).toBe(3);
  });

  it('never suggests the deprecated verify or the help command', () => {
    expect(suggestionsFor('verif', COMMANDS)).toEqual([]);
    expect(parse(['hepl'])).toEqual({
      kind: 'unknown-command',
      error: 'unknown command "hepl" for "fleetctl"',
    });
  });

  it('finds the command after global flags and their values', () => {
    const invocation = run(['--endpoint', 'http://x:1', '--debug', 'cat', 'a.service']);
    expect(invocation.command.name).toBe('cat');
    expect(invocation.args).toEqual(['a.service']);
    expect(invocation.flags.string('endpoint')).toBe('http://x:1');
    expect(invocation.flags.bool('debug')).toBe(true);
  });

  it('lets an unknown flag before the command swallow the command, as cobra guesses', () => {
    // `--no-legend` is not a root flag, so cobra takes `list-units` for its value.
    expect(parse(['--no-legend', 'list-units'])).toMatchObject({
      kind: 'flag-error',
      command: ROOT,
      error: 'unknown flag: --no-legend',
    });
  });

  it('strips flags the way cobra guesses them, quotes included', () => {
    const flags = new FlagSet(ROOT.flags);
    expect(stripFlags(['--debug', 'a', '--endpoint', 'b', 'c', '-x', 'd', 'e'], flags)).toEqual([
      'a',
      'c',
      'e',
    ]);
    expect(stripFlags(['"quoted', 'words"', 'cmd', '', '--tunnel=x'], flags)).toEqual(['cmd']);
  });
});

describe('flags (pflag)', () => {
  it('accepts flags before and after arguments, --flag=value and --flag value', () => {
    const invocation = run([
      'start',
      'a.service',
      '--block-attempts',
      '3',
      'b.service',
      '--no-block=false',
    ]);
    expect(invocation.args).toEqual(['a.service', 'b.service']);
    expect(invocation.flags.number('block-attempts')).toBe(3);
    expect(invocation.flags.bool('no-block')).toBe(false);
  });

  it('treats everything after -- as arguments', () => {
    const invocation = run(['ssh', 'm1', '--', 'ls', '-l', '--all']);
    expect(invocation.args).toEqual(['m1', 'ls', '-l', '--all']);
  });

  it('refuses -l, -f and -A as the original does: they are long flags named l, f and A', () => {
    for (const [argv, letter] of [
      [['list-units', '-l'], 'l'],
      [['journal', '-f', 'x'], 'f'],
      [['ssh', '-A', 'x'], 'A'],
    ] as const) {
      expect(parse([...argv])).toMatchObject({
        kind: 'flag-error',
        error: `unknown shorthand flag: '${letter}' in -${letter}`,
      });
    }
    expect(run(['list-units', '--l']).flags.bool('full')).toBe(true);
    expect(run(['journal', '--f', 'x']).flags.bool('follow')).toBe(true);
    expect(run(['ssh', '--A', 'x']).flags.bool('forward-agent')).toBe(true);
  });

  it('reports pflag errors with pflag words', () => {
    expect(parse(['start', '--bogus'])).toMatchObject({ error: 'unknown flag: --bogus' });
    expect(parse(['list-units', '--fields'])).toMatchObject({
      error: 'flag needs an argument: --fields',
    });
    expect(parse(['start', '--block-attempts=abc'])).toMatchObject({
      error:
        'invalid argument "abc" for --block-attempts=abc: strconv.ParseInt: parsing "abc": invalid syntax',
    });
    expect(parse(['start', '--no-block=maybe'])).toMatchObject({
      error:
        'invalid argument "maybe" for --no-block=maybe: strconv.ParseBool: parsing "maybe": invalid syntax',
    });
    expect(parse(['start', '---x'])).toMatchObject({ error: 'bad flag syntax: ---x' });
  });

  it('shows help for --help, --h and -h, on any command', () => {
    for (const argv of [
      ['start', '--help'],
      ['start', '--h'],
      ['start', '-h'],
      ['help', 'start'],
    ]) {
      expect(parse(argv)).toMatchObject({ kind: 'usage', command: { name: 'start' } });
    }
    expect(parse(['--help'])).toMatchObject({ kind: 'usage', command: ROOT });
    expect(parse([])).toMatchObject({ kind: 'usage', command: ROOT });
  });

  it('honours --version and -v only as the very first argument', () => {
    expect(parse(['--version'])).toEqual({ kind: 'version' });
    expect(parse(['-v', 'list-units'])).toEqual({ kind: 'version' });
    expect(parse(['--debug', '--version'])).toMatchObject({ kind: 'usage', command: ROOT });
    expect(run(['list-units', '--version']).command.name).toBe('list-units');
  });

  it('announces the deprecated verify before anything else', () => {
    expect(parse(['verify', '--help'])).toMatchObject({
      kind: 'usage',
      notice: 'Command "verify" is deprecated, DEPRECATED - No longer works\n',
    });
  });

  it('resolves help topics by prefix and reports unknown ones', () => {
    expect(parse(['help', 'list-m'])).toMatchObject({
      kind: 'usage',
      command: { name: 'list-machines' },
    });
    expect(parse(['help', 'list-u'])).toEqual({ kind: 'unknown-help-topic', topics: ['list-u'] });
    expect(parse(['help', 'bogus'])).toEqual({ kind: 'unknown-help-topic', topics: ['bogus'] });
    expect(parse(['help'])).toMatchObject({ kind: 'usage', command: ROOT });
  });
});

describe('FLEETCTL_* environment variables', () => {
  it('sets every global flag from its variable', () => {
    const invocation = run(['list-units'], {
      FLEETCTL_ENDPOINT: 'http://e:1',
      FLEETCTL_DRIVER: 'etcd',
      FLEETCTL_TUNNEL: 'bastion',
      FLEETCTL_SSH_USERNAME: 'admin',
      FLEETCTL_STRICT_HOST_KEY_CHECKING: 'false',
      FLEETCTL_KNOWN_HOSTS_FILE: '/k',
      FLEETCTL_REQUEST_TIMEOUT: '1.5',
      FLEETCTL_SSH_TIMEOUT: '2',
      FLEETCTL_CA_FILE: '/ca',
      FLEETCTL_CERT_FILE: '/cert',
      FLEETCTL_KEY_FILE: '/key',
      FLEETCTL_ETCD_KEY_PREFIX: '/p/',
      FLEETCTL_DEBUG: 'true',
      FLEETCTL_EXPERIMENTAL_API: 'false',
    });
    const { flags } = invocation;
    expect(flags.string('endpoint')).toBe('http://e:1');
    expect(flags.string('driver')).toBe('etcd');
    expect(flags.string('tunnel')).toBe('bastion');
    expect(flags.string('ssh-username')).toBe('admin');
    expect(flags.bool('strict-host-key-checking')).toBe(false);
    expect(flags.string('known-hosts-file')).toBe('/k');
    expect(flags.number('request-timeout')).toBe(1.5);
    expect(flags.number('ssh-timeout')).toBe(2);
    expect(flags.string('ca-file')).toBe('/ca');
    expect(flags.string('cert-file')).toBe('/cert');
    expect(flags.string('key-file')).toBe('/key');
    expect(flags.string('etcd-key-prefix')).toBe('/p/');
    expect(flags.bool('debug')).toBe(true);
    expect(flags.bool('experimental-api')).toBe(false);
  });

  it('ignores empty and unparsable values, and the command line wins', () => {
    const env = {
      FLEETCTL_ENDPOINT: '',
      FLEETCTL_REQUEST_TIMEOUT: 'soon',
      FLEETCTL_DRIVER: 'etcd',
    };
    const { flags } = run(['--driver', 'API', 'list-units'], env);
    expect(flags.string('endpoint')).toBe('unix:///var/run/fleet.sock');
    expect(flags.number('request-timeout')).toBe(3);
    expect(flags.string('driver')).toBe('API');
  });

  it('sets the deprecated TLS aliases, whose variables lose to the current names', () => {
    const env = { FLEETCTL_ETCD_KEYFILE: '/old', FLEETCTL_KEY_FILE: '/new' };
    expect(run(['list-units'], env).flags.string('key-file')).toBe('/new');
    expect(run(['list-units'], { FLEETCTL_ETCD_CAFILE: '/ca' }).flags.string('ca-file')).toBe(
      '/ca',
    );
  });

  it('leaves local flags alone', () => {
    expect(run(['list-units'], { FLEETCTL_FIELDS: 'unit' }).flags.string('fields')).toBe(
      'unit,machine,active,sub',
    );
  });
});

describe('flag usage lines (pflag FlagUsages)', () => {
  it('aligns usage one column past the longest flag and shows non-zero defaults', () => {
    expect(
      flagUsages([
        stringFlag('fields', 'a,b', 'Columns'),
        boolFlag('full', 'Full'),
        intFlag('lines', 10, 'Lines'),
        intFlag('block-attempts', 0, 'Attempts'),
        floatFlag('timeout', 0.5, 'Timeout'),
      ]),
    ).toBe(
      '      --block-attempts int   Attempts\n' +
        '      --fields string        Columns (default "a,b")\n' +
        '      --full                 Full\n' +
        '      --lines int            Lines (default 10)\n' +
        '      --timeout float        Timeout (default 0.5)\n',
    );
  });
});
