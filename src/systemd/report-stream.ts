import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import type { ReportCommand } from './unit-reports.js';

/** One line of a unit report's NDJSON body: a chunk the command printed, or its exit status. */
export type ReportFrame = { stdout: string } | { stderr: string } | { exit: number };

export function frameLine(frame: ReportFrame): string {
  return `${JSON.stringify(frame)}\n`;
}

/** What a shell reports for a command it could not find. */
const NOT_RUNNABLE = 127;

/**
 * Runs `command` on this host, no shell involved, and writes what it prints to `out` as
 * NDJSON frames in the order the chunks arrive, then its exit status (128 + the signal's
 * number for a command killed by a signal, as a shell reports it). Once `signal` aborts (the
 * client hung up) the command is killed and nothing more is written, so a `journalctl -f`
 * never outlives its reader. `out` is left open for the caller to end.
 *
 * Resolves with the exit status written, or null when the command was called off.
 */
export function streamCommand(
  command: ReportCommand,
  out: Writable,
  signal?: AbortSignal,
): Promise<number | null> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve(null);
      return;
    }
    const child = spawn(command.program, command.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const callOff = () => {
      child.kill('SIGTERM');
      // Output held back for a slow reader must still drain, or 'close' would never come.
      child.stdout.resume();
      child.stderr.resume();
    };
    signal?.addEventListener('abort', callOff, { once: true });
    const finish = (exit: number | null) => {
      signal?.removeEventListener('abort', callOff);
      if (exit !== null && signal?.aborted !== true) out.write(frameLine({ exit }));
      resolve(signal?.aborted === true ? null : exit);
    };

    // A slow reader holds the command back instead of fleetd buffering its output.
    const forward = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      if (signal?.aborted === true) return;
      const frame =
        stream === 'stdout'
          ? { stdout: chunk.toString('base64') }
          : { stderr: chunk.toString('base64') };
      if (out.write(frameLine(frame))) return;
      child.stdout.pause();
      child.stderr.pause();
      out.once('drain', () => {
        child.stdout.resume();
        child.stderr.resume();
      });
    };
    child.stdout.on('data', forward('stdout'));
    child.stderr.on('data', forward('stderr'));

    child.once('error', (err: NodeJS.ErrnoException) => {
      // Only a spawn failure lands here before 'close'; the command never ran.
      if (child.pid !== undefined) return;
      if (signal?.aborted !== true) {
        const message = `fleetd: cannot run ${command.program}: ${err.message}\n`;
        out.write(frameLine({ stderr: Buffer.from(message).toString('base64') }));
      }
      finish(NOT_RUNNABLE);
    });
    child.once('close', (code, killedBy) => {
      if (child.pid === undefined) return;
      finish(code ?? 128 + (killedBy === null ? 0 : constants.signals[killedBy]));
    });
  });
}
