import { describe, expect, it } from 'vitest';
import { FlagError, FlagSet, HelpRequested } from '../../../src/fleetctl/args/flags.js';
import { scanPflag } from '../../../src/fleetctl/args/pflag-syntax.js';
import { COMMANDS, ROOT } from '../../../src/fleetctl/args/specs.js';

const start = COMMANDS.find((command) => command.name === 'start')!;
const FLAGS = new FlagSet([...start.flags, ...ROOT.flags]);

describe('the pflag syntax shim in front of commander', () => {
  it('hands a bare boolean flag over as =true, and --flag=value as it is', () => {
    const scan = scanPflag(['--no-block', 'a.service', '--replace=false'], FLAGS);
    expect(scan.args).toEqual(['--no-block=true', 'a.service', '--replace=false']);
    expect(scan.stop).toBeNull();
  });

  it('gives a flag that takes a value the next argument, whatever it looks like', () => {
    const scan = scanPflag(['--endpoint', '--debug', '--block-attempts', '-3'], FLAGS);
    expect(scan.args).toEqual(['--endpoint', '--debug', '--block-attempts', '-3']);
    expect(scan.occurrences.map(({ arg, value }) => [arg, value])).toEqual([
      ['--endpoint', '--debug'],
      ['--block-attempts', '-3'],
    ]);
  });

  it('leaves everything after -- to commander untouched', () => {
    expect(scanPflag(['a', '--', '--no-block', '-x'], FLAGS).args).toEqual([
      'a',
      '--',
      '--no-block',
      '-x',
    ]);
  });

  it('ends the arguments at the first flag pflag refuses, with its verdict', () => {
    const cases: [string, string][] = [
      ['--bogus=1', 'unknown flag: --bogus'],
      ['---x', 'bad flag syntax: ---x'],
      ['--=x', 'bad flag syntax: --=x'],
      ['-5', "unknown shorthand flag: '5' in -5"],
      ['-lx', "unknown shorthand flag: 'l' in -lx"],
    ];
    for (const [arg, message] of cases) {
      const scan = scanPflag(['a', '--debug', arg, '--block-attempts=x'], FLAGS);
      expect(scan.args).toEqual(['a', '--debug=true']);
      expect(scan.stop).toEqual(new FlagError(message));
    }
    expect(scanPflag(['-help'], FLAGS).stop).toBeInstanceOf(HelpRequested);
  });
});
