import { execFile } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { type ReportFrame, streamCommand } from '../../src/systemd/report-stream.js';

const run = promisify(execFile);

/** Runs `program` through streamCommand and collects the frames it wrote. */
async function framesOf(program: string, args: string[], signal?: AbortSignal) {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const exit = await streamCommand({ program, args }, out, signal);
  const frames = Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ReportFrame);
  return { exit, frames };
}

function decoded(frames: readonly ReportFrame[], stream: 'stdout' | 'stderr'): string {
  return frames
    .map((frame) => (stream in frame ? (frame as Record<string, string>)[stream] : ''))
    .map((base64) => Buffer.from(base64 ?? '', 'base64').toString('utf8'))
    .join('');
}

describe('streaming a command as NDJSON frames', () => {
  it('sends what the real systemctl prints and its exit status last', async () => {
    const direct = await run('systemctl', ['--version']);
    const { exit, frames } = await framesOf('systemctl', ['--version']);
    expect(exit).toBe(0);
    expect(decoded(frames, 'stdout')).toBe(direct.stdout);
    expect(frames.at(-1)).toEqual({ exit: 0 });
  });

  it('keeps stdout and stderr apart, and ends with a failing exit status', async () => {
    const { exit, frames } = await framesOf('sh', [
      '-c',
      'printf one; printf two >&2; printf three; exit 3',
    ]);
    expect(exit).toBe(3);
    expect([decoded(frames, 'stdout'), decoded(frames, 'stderr')]).toEqual(['onethree', 'two']);
    expect(frames.at(-1)).toEqual({ exit: 3 });
    expect(frames.filter((frame) => 'exit' in frame)).toHaveLength(1);
  });

  it('reports a command killed by a signal as a shell does: 128 + its number', async () => {
    const { frames } = await framesOf('sh', ['-c', 'kill -TERM $$']);
    expect(frames).toEqual([{ exit: 143 }]);
  });

  it('reports a program that cannot run with 127 and the reason on stderr', async () => {
    const { exit, frames } = await framesOf('/nonexistent/journalctl', []);
    expect(exit).toBe(127);
    expect(decoded(frames, 'stderr')).toContain('fleetd: cannot run /nonexistent/journalctl');
    expect(frames.at(-1)).toEqual({ exit: 127 });
  });

  it('kills a followed journalctl once the client hangs up, and writes no exit line', async () => {
    const controller = new AbortController();
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    // The real journalctl, following: on this host it prints a notice and then waits.
    const running = streamCommand(
      { program: 'sh', args: ['-c', 'echo $$; exec journalctl --no-pager -n 1 -f'] },
      out,
      controller.signal,
    );
    await vi.waitFor(() => expect(lines.length).toBeGreaterThan(0));
    const first = JSON.parse(lines[0] ?? '') as { stdout: string };
    const pid = Number(Buffer.from(first.stdout, 'base64').toString().split('\n')[0]);
    expect(alive(pid)).toBe(true);
    controller.abort();
    expect(await running).toBeNull();
    expect(alive(pid)).toBe(false);
    expect(lines.join('')).not.toContain('"exit"');
  });

  it('holds a command back for a reader that does not keep up, and still ends it on hang-up', async () => {
    const controller = new AbortController();
    const written: Buffer[] = [];
    // A reader that takes the first chunk and then nothing more.
    const stuck = new Writable({ highWaterMark: 1, write: (chunk: Buffer) => written.push(chunk) });
    const running = streamCommand(
      { program: 'sh', args: ['-c', 'echo $$; exec yes'] },
      stuck,
      controller.signal,
    );
    await vi.waitFor(() => expect(written.length).toBe(1));
    const first = JSON.parse(written[0]?.toString() ?? '') as { stdout: string };
    const pid = Number(Buffer.from(first.stdout, 'base64').toString().split('\n')[0]);
    expect(alive(pid)).toBe(true);
    controller.abort();
    expect(await running).toBeNull();
    expect(alive(pid)).toBe(false);
  });

  it('runs nothing for a client already gone', async () => {
    const controller = new AbortController();
    controller.abort();
    const { exit, frames } = await framesOf('sh', ['-c', 'exit 0'], controller.signal);
    expect([exit, frames]).toEqual([null, []]);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
