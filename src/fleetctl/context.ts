import type { FleetClient } from '../client/types.js';
import type { FlagValues } from './args/flags.js';
import type { Logger } from './log.js';
import type { Output } from './output.js';
import type { CommandRunner } from './remote/run-command.js';
import type { SshConnector, SshOptions } from './remote/ssh.js';
import type { MachineCache } from './units/machines.js';

/** How long fleetctl waits for units: fleet polls every 250 ms, in attempts of 2 s. */
export interface Timing {
  pollIntervalMs: number;
  attemptWindowMs: number;
}

export const FLEET_TIMING: Timing = { pollIntervalMs: 250, attemptWindowMs: 2000 };

/** Everything a command needs; built once per invocation. */
export interface CommandContext {
  /** The command's name as resolved (a prefix such as `sta` resolves to `start`). */
  name: string;
  args: string[];
  flags: FlagValues;
  client: FleetClient;
  stdout: Output;
  stderr: Output;
  stdin: NodeJS.ReadableStream;
  log: Logger;
  /** Unit file arguments are relative to this directory. */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  timing: Timing;
  machines: MachineCache;
  /** Runs commands on cluster machines (`status`, `journal`, `restart` of global units). */
  remote: CommandRunner;
  ssh: SshConnector;
  /** The global SSH settings; the caller adds the address and agent forwarding. */
  sshOptions: Omit<SshOptions, 'address' | 'agentForwarding'>;
}

/** A command's implementation: runs it and returns the exit status (-1 exits as 255). */
export type CommandRun = (context: CommandContext) => Promise<number>;
