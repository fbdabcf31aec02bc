import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { GoogleApiError } from '../../client/googleapi-error.js';
import type { FleetClient } from '../../client/types.js';
import {
  StreamCutError,
  type UnitOutputRequest,
  type UnitOutputResult,
} from '../../client/unit-output.js';
import { errorMessage } from '../../error-message.js';
import { quoteString } from '../../go/text.js';
import type { Output } from '../output.js';
import type { MachineCache } from '../units/machines.js';
import { commandRoute } from './route.js';
import { joinHostPort, type SshConnector, type SshOptions } from './ssh.js';

/**
 * A command for a machine: its argument vector here, its command line over SSH, and what
 * to ask fleet for when fleet can run it instead.
 */
export interface MachineCommand {
  argv: readonly string[];
  line: string;
  fleet?: UnitOutputRequest;
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
  /** The cluster client; with the API driver it can ask fleet to run `status` and `journal`. */
  client: FleetClient;
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
 * Ours: with no SSH set up, fleet runs `status` and `journal` on the machine
 * (route.ts); a server that cannot gets the original's SSH attempt.
 */
export class MachineCommandRunner implements CommandRunner {
  constructor(private readonly services: RunnerServices) {}

  async run(machineID: string, command: MachineCommand, sshPort: number): Promise<number> {
    const { stderr, client } = this.services;
    const route = commandRoute({
      onThisMachine: (await this.services.localMachineId()) === machineID,
      sshAuthSock: this.services.env.SSH_AUTH_SOCK,
      tunnel: this.services.sshOptions.tunnel,
      apiDriver: client.unitOutput !== undefined,
      fleetCanRun: command.fleet !== undefined,
    });
    if (route === 'local') return this.runLocally(command.argv);
    if (route === 'fleet' && command.fleet !== undefined) {
      const status = await this.runThroughFleet(command.fleet);
      if (status !== null) return status;
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

  /**
   * The command run by fleet, its output copied byte for byte; null when the server cannot
   * run it. A stream cut short fails as a broken SSH session would; a refusal prints
   * fleet's message.
   */
  private async runThroughFleet(request: UnitOutputRequest): Promise<number | null> {
    const { client, stdout, stderr } = this.services;
    let result: UnitOutputResult;
    try {
      result = (await client.unitOutput?.(request, { stdout, stderr })) ?? { served: false };
    } catch (err) {
      if (err instanceof StreamCutError) {
        stderr.write(`Error running remote command: ${err.message}\n`);
        return -1;
      }
      stderr.write(`${apiMessage(err)}\n`);
      return 1;
    }
    return result.served ? result.exit : null;
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

/** The message of fleet's error body when there is one, else the error's own. */
function apiMessage(err: unknown): string {
  return err instanceof GoogleApiError && err.apiMessage !== ''
    ? err.apiMessage
    : errorMessage(err);
}
