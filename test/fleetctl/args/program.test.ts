import { describe, expect, it } from 'vitest';
import { FlagError, FlagValues, HelpRequested } from '../../../src/fleetctl/args/flags.js';
import { parseCommandArguments, renderUsage } from '../../../src/fleetctl/args/program.js';
import { commandFlagSet } from '../../../src/fleetctl/args/resolve.js';
import { COMMANDS, type CommandSpec, ROOT, SUBCOMMANDS } from '../../../src/fleetctl/args/specs.js';

function command(name: string): CommandSpec {
  return COMMANDS.find((spec) => spec.name === name)!;
}

function parse(spec: CommandSpec, args: string[]) {
  const values = new FlagValues(commandFlagSet(spec).flags);
  return { args: parseCommandArguments(spec, args, values), values };
}

function failure(spec: CommandSpec, args: string[]): unknown {
  try {
    parse(spec, args);
  } catch (err) {
    return err;
  }
  throw new Error(`${args.join(' ')} parsed`);
}

describe("a command's arguments, parsed by commander", () => {
  it('takes flags anywhere among the arguments, the root flags included', () => {
    const { args, values } = parse(command('start'), [
      'a.service',
      '--debug',
      '--endpoint',
      'http://e:1',
      'b.service',
      '--block-attempts=2',
    ]);
    expect(args).toEqual(['a.service', 'b.service']);
    expect(values.bool('debug')).toBe(true);
    expect(values.string('endpoint')).toBe('http://e:1');
    expect(values.number('block-attempts')).toBe(2);
  });

  it('sets both names of a flag bound to one variable', () => {
    expect(parse(command('list-units'), ['--l']).values.bool('full')).toBe(true);
    expect(parse(command('list-units'), ['--full', '--l=false']).values.bool('full')).toBe(false);
  });

  it('reports the first error in argument order, as pflag stops at it', () => {
    expect(failure(command('start'), ['--bogus', '--block-attempts=x'])).toEqual(
      new FlagError('unknown flag: --bogus'),
    );
    expect(failure(command('start'), ['--bogus', '--block-attempts'])).toEqual(
      new FlagError('unknown flag: --bogus'),
    );
    expect(failure(command('start'), ['--block-attempts=x', '-h'])).toEqual(
      new FlagError(
        'invalid argument "x" for --block-attempts=x: strconv.ParseInt: parsing "x": invalid syntax',
      ),
    );
    expect(failure(command('start'), ['-h', '--block-attempts=x'])).toBeInstanceOf(HelpRequested);
  });

  it('quotes a bad value with the argument that named its flag', () => {
    expect(failure(command('start'), ['--no-block', '--block-attempts', 'x'])).toEqual(
      new FlagError(
        'invalid argument "x" for --block-attempts: strconv.ParseInt: parsing "x": invalid syntax',
      ),
    );
    expect(failure(command('list-units'), ['x', '--fields'])).toEqual(
      new FlagError('flag needs an argument: --fields'),
    );
  });

  it('refuses a negative number as an argument, as pflag takes it for a shorthand', () => {
    expect(failure(command('start'), ['a.service', '-1'])).toEqual(
      new FlagError("unknown shorthand flag: '1' in -1"),
    );
  });

  it("never dispatches the root's arguments to a command", () => {
    const { args, values } = parse(ROOT, ['--debug', '--', 'start', '--no-block']);
    expect(args).toEqual(['start', '--no-block']);
    expect(values.bool('debug')).toBe(true);
  });
});

describe('help, rendered by commander with fleet v1.0 template', () => {
  it("lists every command in the root's help, help and verify included", () => {
    const help = renderUsage(ROOT, '9.9.9');
    expect(help).toMatch(/^NAME:\n\tfleetctl - fleetctl is a command-line interface/);
    expect(help).toContain('VERSION:\n\t9.9.9\n');
    const listed = help
      .split('COMMANDS:\n')[1]!
      .split('\n\n')[0]!
      .split('\n')
      .map((line) => line.trim().split(/\t+/)[0]);
    expect(listed).toEqual(SUBCOMMANDS.map((spec) => spec.name));
    expect(help).toContain('OPTIONS:\n      --ca-file string ');
    expect(help).not.toContain('GLOBAL OPTIONS');
  });

  it("puts a command's own flags under OPTIONS and the root's under GLOBAL OPTIONS", () => {
    const help = renderUsage(command('journal'), '1.0.0');
    expect(help).toContain('USAGE:\n\tfleetctl journal [--lines=N]');
    const [own, global] = help.split('OPTIONS:\n').slice(1);
    expect(own).toBe(
      '      --f                Shorthand for --follow\n' +
        '      --follow           Continuously print new entries as they are appended to the journal.\n' +
        '      --lines int        Number of recent log lines to return (default 10)\n' +
        '      --machine string   Machine ID, or a unique prefix of it, to run on; needed for a global unit.\n' +
        '      --output string    Output mode. This will be passed unaltered to journalctl --output. (default "short")\n' +
        '      --ssh-port int     Connect to remote hosts over SSH using this TCP port. (default 22)\n' +
        '      --sudo             Execute journalctl with sudo\n\nGLOBAL ',
    );
    expect(global).toContain('      --debug                      Print out more debug information');
    expect(help).not.toContain('VERSION:');
  });
});
