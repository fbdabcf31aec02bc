import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SshConnector, SshOptions, SshSession } from '../../src/fleetctl/remote/ssh.js';
import { FakeCluster } from './fake-cluster.js';

export const R1 = '0a1b2c3d4e5f40718293a4b5c6d7e8f9';
export const R2 = '1b2c3d4e5f60718293a4b5c6d7e8f90a';
export const R3 = '2c3d4e5f60718293a4b5c6d7e8f90a1b';

export function threeMachines(): FakeCluster {
  return FakeCluster.withMachines({ [R1]: 'r1', [R2]: 'r2', [R3]: 'r3' });
}

/** A directory of unit files for a test: name → contents. */
export async function unitDirectory(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetctl-units-'));
  for (const [name, contents] of Object.entries(files)) await writeFile(join(dir, name), contents);
  return dir;
}

/**
 * A directory with executables standing in for `systemctl`, `journalctl` and `sudo`: each
 * prints its name and arguments, and exits with $FAKE_EXIT (default 0).
 */
export async function fakeCommands(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetctl-bin-'));
  for (const name of ['systemctl', 'journalctl', 'sudo']) {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\necho ${name} "$@"\nexit \${FAKE_EXIT:-0}\n`);
    await chmod(path, 0o755);
  }
  return dir;
}

/** Records SSH connections and the command lines run over them. */
export class RecordingSsh implements SshConnector {
  readonly connections: SshOptions[] = [];
  readonly executed: string[] = [];

  constructor(private readonly exitStatus = 0) {}

  async connect(options: SshOptions): Promise<SshSession> {
    this.connections.push(options);
    return {
      execute: async (command, streams) => {
        this.executed.push(command);
        streams.stdout.write(`ran ${command}\n`);
        return this.exitStatus;
      },
      shell: async () => {
        this.executed.push('<shell>');
      },
      dial: async () => {
        throw new Error('not in tests');
      },
      dialCommand: async () => {
        throw new Error('not in tests');
      },
      close: async () => {},
    };
  }
}
