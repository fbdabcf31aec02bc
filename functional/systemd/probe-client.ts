// Host side of unit-manager-probe.mjs: starts it inside a machine and calls the UnitManager
// there as if it were local.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Machine, nsenterArgv, REPO_ROOT } from '../../harness/index.js';
import type { SystemdUnitState } from '../../src/systemd/unit-manager.js';

const PROBE = join(REPO_ROOT, 'functional/systemd/unit-manager-probe.mjs');
const MACHINE_ENV = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/root',
];

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** An error the UnitManager threw inside the machine. */
export class ProbeError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
}

type Pending = { resolve(value: unknown): void; reject(err: Error): void };

export class UnitManagerProbe {
  /** Every log line the manager wrote, in order. */
  readonly logs: LogLine[] = [];
  /** How many times onChange fired. */
  changes = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  static async start(
    machine: Machine,
    options: { unitsDirectory: string; callTimeoutMs: number },
  ): Promise<UnitManagerProbe> {
    const child = spawn(
      nsenterArgv(machine)[0]!,
      [
        ...nsenterArgv(machine).slice(1),
        '/usr/bin/env',
        '-i',
        ...MACHINE_ENV,
        'node',
        PROBE,
        options.unitsDirectory,
        String(options.callTimeoutMs),
      ],
      { stdio: 'pipe' },
    );
    const probe = new UnitManagerProbe(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => {
        probe.exited = true;
        const err = new Error(`unit manager probe exited (${code}): ${stderr}`);
        reject(err);
        for (const pending of probe.pending.values()) pending.reject(err);
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const message = JSON.parse(line) as Record<string, unknown>;
        if (message.ready === true) resolve();
        else if (typeof message.fatal === 'string') reject(new Error(message.fatal));
        else probe.receive(message);
      });
    });
    await ready;
    return probe;
  }

  listUnitFiles(): Promise<Record<string, string>> {
    return this.call('listUnitFiles') as Promise<Record<string, string>>;
  }

  load(name: string, text: string): Promise<void> {
    return this.call('load', name, text) as Promise<void>;
  }

  unload(name: string): Promise<void> {
    return this.call('unload', name) as Promise<void>;
  }

  reload(): Promise<void> {
    return this.call('reload') as Promise<void>;
  }

  start(name: string): Promise<void> {
    return this.call('start', name) as Promise<void>;
  }

  stop(name: string): Promise<void> {
    return this.call('stop', name) as Promise<void>;
  }

  states(names: readonly string[]): Promise<Record<string, SystemdUnitState>> {
    return this.call('states', names) as Promise<Record<string, SystemdUnitState>>;
  }

  /** Messages of the log lines written so far. */
  messages(): string[] {
    return this.logs.map((line) => line.msg);
  }

  /** Ends the probe (it closes its manager when stdin ends) and waits for it to exit. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end();
    await exited;
  }

  private call(op: string, ...args: unknown[]): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error('unit manager probe has exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  private receive(message: Record<string, unknown>): void {
    if (message.log !== undefined) {
      this.logs.push(message.log as LogLine);
    } else if (message.change === true) {
      this.changes += 1;
    } else if (typeof message.id === 'number') {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      const error = message.error as { name: string; message: string } | undefined;
      if (error !== undefined) pending?.reject(new ProbeError(error.name, error.message));
      else pending?.resolve(message.result);
    }
  }
}
