import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../../error-message.js';
import { quoteString } from '../../go/text.js';
import type { Output } from '../output.js';
import type { MachineCache } from '../units/machines.js';
import { joinHostPort, type SshConnector, type SshOptions } from './ssh.js';

/** A command for a machine: its argument vector here, its command line over SSH. */
export interface MachineCommand {
  argv: readonly string[];
  line: string;
}

/** fleet's remote form of `cmd args...`: every argument Go-quoted (`systemctl "status"`). */
export function quotedCommand(command: string, args: readonly string[]): MachineCommand {
  return { argv: [command, ...args], line: [command, ...args.map(quoteString)].join(' ') };
}

/** A command fleet builds as one line (journal's), split at spaces to run it here. */
export function commandLine(line: string): MachineCommand {
  return { argv: line.split(' '), line };
}

/** Runs a command on a cluster machine, streaming its output; resolves with its exit status. */
export interface CommandRunner {
  run(machineID: string, command: MachineCommand, sshPort: number): Promise<number>;
}

/** fleet's `IsLocalMachineID` reads `/etc/machine-id`; a missing or empty file means none. */
export async function readLocalMachineId(path = '/etc/machine-id'): Promise<string | null> {
  try {
    const id = (await readFile(path, 'utf8')).trim();
    return id === '' ? null : id;
  } catch {
    return null;
  }
}

export interface RunnerServices {
  localMachineId: () => Promise<string | null>;
  /** The environment local commands run with (fleetctl's own). */
  env: Readonly<Record<string, string | undefined>>;
  machines: MachineCache;
  ssh: SshConnector;
  sshOptions: Omit<SshOptions, 'address' | 'agentForwarding'>;
  stdin: NodeJS.ReadableStream;
  stdout: Output;
  stderr: Output;
}

/**
 * fleet's `runCommand`: on the machine fleetctl runs on, the command runs directly;
 * elsewhere over SSH to the machine's public IP (through `--tunnel` when set), with every
 * argument double-quoted Go-style. A failed SSH connection exits 255, as fleet's -1 did.
 */
export class MachineCommandRunner implements CommandRunner {
  constructor(private readonly services: RunnerServices) {}

  async run(machineID: string, command: MachineCommand, sshPort: number): Promise<number> {
    const { stderr } = this.services;
    if ((await this.services.localMachineId()) === machineID) {
      return this.runLocally(command.argv);
    }
    let address: string;
    try {
      const machine = await this.services.machines.fresh(machineID);
      if (machine === null) throw new Error(`machine ${machineID} is not in the cluster`);
      address = joinHostPort(machine.primaryIP ?? '', sshPort);
    } catch (err) {
      stderr.write(`Error getting machine IP: ${errorMessage(err)}\n`);
      return 1;
    }
    let session: Awaited<ReturnType<SshConnector['connect']>>;
    try {
      session = await this.services.ssh.connect({
        ...this.services.sshOptions,
        address,
        agentForwarding: false,
      });
    } catch (err) {
      stderr.write(`Unable to SSH to remote host: ${errorMessage(err)}\n`);
      return -1;
    }
    try {
      return await session.execute(command.line, this.services);
    } catch (err) {
      stderr.write(`Error running remote command: ${errorMessage(err)}\n`);
      return -1;
    } finally {
      await session.close();
    }
  }

  /** fleet's `runLocalCommand`: output streamed through, no stdin. */
  private runLocally([command = '', ...args]: readonly string[]): Promise<number> {
    const { stdout, stderr } = this.services;
    return new Promise((resolve) => {
      const child = spawn(command, args, {
        env: this.services.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (chunk: Buffer) => stdout.write(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.write(chunk));
      child.on('error', (err: NodeJS.ErrnoException) => {
        const reason = err.code === 'ENOENT' ? 'executable file not found in $PATH' : err.message;
        stderr.write(`Error running local command: exec: ${quoteString(command)}: ${reason}\n`);
        resolve(-1);
      });
      child.on('close', (code) => resolve(code ?? -1));
    });
  }
}
