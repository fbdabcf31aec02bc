/**
 * What fleetd runs to report on one of its units: the `systemctl status` and `journalctl`
 * command lines fleetctl ran over SSH, as argument vectors (no shell ever sees a unit name).
 */

/** journalctl's documented `--output` modes (systemd 252). */
export const JOURNAL_OUTPUT_MODES = [
  'short',
  'short-full',
  'short-iso',
  'short-iso-precise',
  'short-precise',
  'short-monotonic',
  'short-delta',
  'short-unix',
  'verbose',
  'export',
  'json',
  'json-pretty',
  'json-sse',
  'json-seq',
  'cat',
  'with-unit',
] as const;
export type JournalOutputMode = (typeof JOURNAL_OUTPUT_MODES)[number];

export type UnitReport =
  | { kind: 'status'; unit: string }
  | {
      kind: 'journal';
      unit: string;
      lines: number;
      output: JournalOutputMode;
      follow: boolean;
    };

export interface ReportCommand {
  program: string;
  args: string[];
}

/** `systemctl status -l <unit>` or `journalctl --unit <unit> --no-pager -n <N> --output <mode> [-f]`. */
export function reportCommand(report: UnitReport): ReportCommand {
  if (report.kind === 'status') {
    return { program: 'systemctl', args: ['status', '-l', report.unit] };
  }
  const args = [
    '--unit',
    report.unit,
    '--no-pager',
    '-n',
    String(report.lines),
    '--output',
    report.output,
  ];
  if (report.follow) args.push('-f');
  return { program: 'journalctl', args };
}
