import { describe, expect, it } from 'vitest';
import { reportCommand } from '../../src/systemd/unit-reports.js';

describe('the commands fleetctl ran over SSH, as argument vectors', () => {
  it('status is systemctl status -l of the unit', () => {
    expect(reportCommand({ kind: 'status', unit: 'hello.service' })).toEqual({
      program: 'systemctl',
      args: ['status', '-l', 'hello.service'],
    });
  });

  it('journal is journalctl with the unit, no pager, the lines and the output mode', () => {
    expect(
      reportCommand({
        kind: 'journal',
        unit: 'hello.service',
        lines: 25,
        output: 'json',
        follow: false,
      }),
    ).toEqual({
      program: 'journalctl',
      args: ['--unit', 'hello.service', '--no-pager', '-n', '25', '--output', 'json'],
    });
  });

  it('a followed journal ends with -f', () => {
    expect(
      reportCommand({ kind: 'journal', unit: 'a.service', lines: 0, output: 'cat', follow: true })
        .args,
    ).toEqual(['--unit', 'a.service', '--no-pager', '-n', '0', '--output', 'cat', '-f']);
  });

  it('keeps a unit name with shell characters one argument', () => {
    const name = 'x@$(touch y);z.service';
    expect(reportCommand({ kind: 'status', unit: name }).args).toEqual(['status', '-l', name]);
  });
});
