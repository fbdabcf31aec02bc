import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';

/** sd-daemon priorities by pino level, so journald files each line at its level. */
const PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const LEVEL_NAME: Record<number, string> = {
  10: 'DEBUG',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const FRAMING = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'err']);

export interface LoggerOptions {
  /** fleet's `verbosity`: above 0 enables DEBUG. */
  verbosity: number;
  /** Prefix each line with `<N>`: set when stderr goes to the journal (`JOURNAL_STREAM`). */
  journal: boolean;
  /** Where lines go; stderr by default, as the original's. */
  output?: NodeJS.WritableStream;
}

/**
 * fleetd's logger: pino underneath, rendered as one plain line per event, like the original
 * (`INFO Engine leadership acquired`), with structured fields after the message as
 * `key=value`. Messages operators grep for are the `msg` verbatim.
 */
export function createLogger(options: LoggerOptions): Logger {
  const output = options.output ?? process.stderr;
  const render = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output.write(formatLine(chunk.toString(), options.journal));
      done();
    },
  });
  return pino({ level: levelOf(options.verbosity), base: undefined }, render);
}

/** The pino level of fleet's `verbosity`; a reload sets it on the running logger. */
export function levelOf(verbosity: number): 'debug' | 'info' {
  return verbosity > 0 ? 'debug' : 'info';
}

export function formatLine(json: string, journal: boolean): string {
  const record = JSON.parse(json) as Record<string, unknown> & { level: number; msg?: string };
  const fields = Object.entries(record)
    .filter(([key]) => !FRAMING.has(key))
    .map(([key, value]) => ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('');
  const err = record.err as { message?: string } | undefined;
  const errText = err?.message === undefined ? '' : ` err=${JSON.stringify(err.message)}`;
  const prefix = journal ? `<${PRIORITY[record.level] ?? 6}>` : '';
  const level = LEVEL_NAME[record.level] ?? 'INFO';
  return `${prefix}${level} ${record.msg ?? ''}${fields}${errText}\n`;
}

/** Whether stderr is connected to the journal (systemd sets JOURNAL_STREAM for that). */
export function stderrIsJournal(env: NodeJS.ProcessEnv): boolean {
  return env.JOURNAL_STREAM !== undefined && env.JOURNAL_STREAM !== '';
}
