import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runFleetctl } from '../../../src/fleetctl/run.js';
import { BufferedOutput } from '../buffered-output.js';

export interface FleetctlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: Record<string, string>;
  /** What fleetctl reads on stdin (answers to host key prompts, input of remote commands). */
  stdin?: string;
}

/**
 * fleetctl in this process, with this stdin, and no machine counted as local: every
 * machine of a test cluster is reached over SSH.
 */
export async function fleetctl(argv: string[], options: RunOptions): Promise<FleetctlResult> {
  const stdout = new BufferedOutput();
  const stderr = new BufferedOutput();
  const input = options.stdin ?? '';
  const exitCode = await runFleetctl({
    argv,
    env: options.env,
    cwd: process.cwd(),
    stdin: Readable.from(input === '' ? [] : [Buffer.from(input)]),
    stdout,
    stderr,
    localMachineId: async () => null,
  });
  return { exitCode: exitCode & 0xff, stdout: stdout.text, stderr: stderr.text };
}

export const BIN = fileURLToPath(new URL('../../../bin/fleetctl', import.meta.url));
export const BUILT = fileURLToPath(new URL('../../../dist/fleetctl/main.js', import.meta.url));

/** The built CLI as a process (`npm run build` first): `command` runs it, e.g. under `script`. */
export function runProcess(
  command: string,
  args: string[],
  options: RunOptions,
): Promise<FleetctlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({
        exitCode: code ?? -1,
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
      }),
    );
    child.stdin.end(options.stdin ?? '');
  });
}
