// Running host commands with a deadline, and reading /proc.
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface RunOptions {
  /** Kill the command (its whole process group, SIGKILL) after this long. Default 30 s. */
  timeoutMs?: number;
  /** Written to the command's standard input, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Called when the deadline passes, before the kill: what it resolves to is added to the
   * result's stderr (a diagnostic of why the command hung). Bounded by the caller.
   */
  onTimeout?: (pid: number) => Promise<string>;
}

export interface RunResult {
  argv: readonly string[];
  /** Exit code, or null when the command died of a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export class CommandError extends Error {
  constructor(
    readonly result: RunResult,
    what?: string,
  ) {
    const how = result.timedOut
      ? `timed out after ${result.durationMs} ms`
      : result.signal !== null
        ? `died of ${result.signal}`
        : `exited ${result.code}`;
    super(
      `${what ?? result.argv.join(' ')} ${how}` +
        (result.stderr.trim() ? `\nstderr: ${result.stderr.trim()}` : '') +
        (result.stdout.trim() ? `\nstdout: ${result.stdout.trim().slice(0, 2000)}` : ''),
    );
    this.name = 'CommandError';
  }
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Runs argv (no shell) in its own process group and collects its output. Never rejects for a
 * failing command: look at `code`. On timeout the whole process group gets SIGKILL, which also
 * reaches a process that `nsenter` forked into a machine (it stays in nsenter's group).
 */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('run: empty argv'));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = Date.now();
  const spawnOpts: SpawnOptions = {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  };
  if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
  return new Promise((resolve) => {
    const child = spawn(file, args, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, extraErr = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        argv,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extraErr + diagnosis,
        timedOut,
        durationMs: Date.now() - started,
      });
    };
    let diagnosis = '';
    const timer = setTimeout(async () => {
      timedOut = true;
      if (opts.onTimeout !== undefined && child.pid !== undefined) {
        diagnosis = await opts.onTimeout(child.pid).catch((e: Error) => `(no diagnosis: ${e})`);
      }
      killGroup(child.pid);
    }, timeoutMs);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => finish(null, null, String(e)));
    child.on('close', (code, signal) => finish(code, signal));
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

/** Like run, but rejects with a CommandError unless the command exits 0. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new CommandError(r);
  return r;
}

/** Synchronous variant for process-exit handlers. Returns the exit status (null if killed). */
export function runSync(argv: readonly string[], timeoutMs = 10_000): number | null {
  const [file, ...args] = argv;
  if (file === undefined) return null;
  const r = spawnSync(file, args, { stdio: 'ignore', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return r.status;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Blocks the thread (exit handlers cannot await). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Fields of /proc/<pid>/stat, or undefined if the process is gone. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  startTime: string;
}

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < 0) return undefined;
  const rest = text
    .slice(close + 2)
    .trim()
    .split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: Number(rest[1] ?? -1),
    startTime: rest[19] ?? '',
  };
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name)) pids.push(Number(name));
  }
  return pids;
}

/** Inode of a namespace link such as /proc/<pid>/ns/net, or undefined. */
export function nsInode(
  pid: number | 'self',
  kind: 'net' | 'pid' | 'mnt' | 'cgroup',
): number | undefined {
  try {
    const m = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${kind}`));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
