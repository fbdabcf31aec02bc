import { type ChildProcess, fork } from 'node:child_process';

/** A message with a `type`, the shape of both directions of a worker's IPC channel. */
interface Typed {
  type: string;
}

/**
 * A forked Node.js worker driven over IPC, with request/answer helpers. The child is
 * expected to exit when its IPC channel closes, so a coordinator that dies takes its
 * workers with it; `kill()` is the last resort and signals only this child's own pid.
 */
export class ChildWorker<Command extends Typed, Report extends Typed> {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly waiters: Array<{
    type: string;
    resolve: (report: Report) => void;
    reject: (err: Error) => void;
  }> = [];
  private exitError: Error | null = null;

  constructor(
    readonly name: string,
    modulePath: string,
    execArgv: string[],
    private readonly onUnexpected: (worker: string, report: Report) => void,
  ) {
    this.child = fork(modulePath, [], {
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child.on('message', (message: Report) => this.deliver(message));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitError = new Error(`worker ${name} exited (code ${code}, signal ${signal})`);
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.exitError);
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitError === null;
  }

  send(command: Command): void {
    if (this.exitError !== null) throw this.exitError;
    this.child.send(command);
  }

  /** Sends `command` and resolves with the next report of type `answer`. */
  request<T extends Report['type']>(
    command: Command,
    answer: T,
  ): Promise<Extract<Report, { type: T }>> {
    const answered = this.next(answer);
    this.send(command);
    return answered;
  }

  next<T extends Report['type']>(type: T): Promise<Extract<Report, { type: T }>> {
    if (this.exitError !== null) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      this.waiters.push({
        type,
        resolve: resolve as (report: Report) => void,
        reject,
      });
    });
  }

  /** Asks nicely with `command`, then SIGKILLs this child if it is not gone in `graceMs`. */
  async close(command: Command | null, graceMs: number): Promise<void> {
    if (this.exitError !== null) return;
    if (command !== null) {
      try {
        this.send(command);
      } catch {
        // Already going away.
      }
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.exitError === null) this.child.kill('SIGKILL');
  }

  private deliver(report: Report): void {
    const index = this.waiters.findIndex((waiter) => waiter.type === report.type);
    if (index < 0) {
      this.onUnexpected(this.name, report);
      return;
    }
    const [waiter] = this.waiters.splice(index, 1);
    waiter!.resolve(report);
  }
}
