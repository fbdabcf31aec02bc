import type { Output } from './output.js';

type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/**
 * fleet's logger with timestamps, as fleetctl enables it: every line on stderr reads
 * `2016/03/29 09:58:32 WARN fleetctl.go:123: <message>`. The `file:line` token names our
 * module instead; tests normalise the prefix to `<time> LEVEL <src>: `.
 */
export class Logger {
  constructor(
    private readonly stderr: Output,
    private readonly debugEnabled: boolean,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The same logger writing elsewhere (a job's recorded output, replayed in order). */
  writingTo(stderr: Output): Logger {
    return new Logger(stderr, this.debugEnabled, this.now);
  }

  debug(source: string, message: string): void {
    if (this.debugEnabled) this.line('DEBUG', source, message);
  }

  info(source: string, message: string): void {
    this.line('INFO', source, message);
  }

  warning(source: string, message: string): void {
    this.line('WARN', source, message);
  }

  error(source: string, message: string): void {
    this.line('ERROR', source, message);
  }

  private line(level: LogLevel, source: string, message: string): void {
    this.stderr.write(`${timestamp(this.now())} ${level} ${source}: ${message}\n`);
  }
}

/** Go's `log.LstdFlags` in local time: `2006/01/02 15:04:05`. */
function timestamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}/${two(date.getMonth() + 1)}/${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  );
}
