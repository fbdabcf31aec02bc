/**
 * The floor set by systemd itself, against which the launch is judged: in freshly booted machines built the
 * same way as the cluster's, with the template already installed and systemd reloaded (not
 * counted), `systemctl start --no-block` of each machine's share of the instance names in one
 * call per machine, all machines at once, timed until every unit runs.
 */
import type { Machine } from '../../harness/index.js';
import {
  countActive,
  cpuSince,
  TEMPLATE_NAME,
  TEMPLATE_PREFIX,
  TEMPLATE_TEXT,
} from './fleet-launch.js';
import { type Libraries, machinesCpu, type StartedTimes, waitForStarted } from './real-machines.js';

export interface FloorResult {
  /** Units per machine, in machine order. */
  shares: number[];
  /** From issuing the commands until systemd ran every unit. */
  started: StartedTimes;
  /** Until the slowest `systemctl start --no-block` returned. */
  commandsMs: number;
  /** Units systemd reported active after the wait; null if unknown. */
  confirmedActive: number | null;
  /** CPU seconds used from the commands until every unit ran, by `<machine>\t<group>`. */
  cpu: Map<string, number>;
}

/** Splits names into `parts` contiguous shares whose sizes differ by one at most. */
function shares<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = [];
  let next = 0;
  for (let part = 0; part < parts; part++) {
    const size = Math.ceil((items.length - next) / (parts - part));
    out.push(items.slice(next, next + size));
    next += size;
  }
  return out;
}

export async function measureFloor(
  libraries: Libraries,
  opts: {
    machines: number;
    names: readonly string[];
    timeoutMs: number;
    pollMs: number;
    log: (line: string) => void;
  },
): Promise<FloorResult> {
  const { harness } = libraries;
  const network = await harness.createNetwork();
  try {
    const machines: Machine[] = await Promise.all(
      Array.from({ length: opts.machines }, (_, i) =>
        harness.bootMachine({ name: `floor${i + 1}`, network }),
      ),
    );
    await Promise.all(
      machines.map(async (machine) => {
        await harness.writeMachineFile(
          machine,
          `/run/systemd/system/${TEMPLATE_NAME}`,
          TEMPLATE_TEXT,
        );
        await harness.execOk(machine, ['systemctl', 'daemon-reload']);
      }),
    );
    const split = shares(opts.names, machines.length);
    opts.log(`floor: systemctl start --no-block of ${split.map((s) => s.length).join('/')} units`);
    const cpuBefore = machinesCpu(machines);
    const since = performance.now();
    const commands = Promise.all(
      machines.map((machine, i) =>
        harness
          .execOk(machine, ['systemctl', 'start', '--no-block', ...split[i]!], {
            timeoutMs: opts.timeoutMs,
          })
          .then(() => performance.now() - since),
      ),
    );
    const started = await waitForStarted({
      machines,
      prefix: TEMPLATE_PREFIX,
      total: opts.names.length,
      since,
      timeoutMs: opts.timeoutMs,
      pollMs: opts.pollMs,
      progress: (count) => opts.log(`floor: ${count} of ${opts.names.length} units running`),
    });
    const cpu = cpuSince(cpuBefore, machinesCpu(machines));
    const commandsMs = Math.max(...(await commands));
    const confirmedActive = await countActive(libraries, machines);
    return { shares: split.map((s) => s.length), started, commandsMs, confirmedActive, cpu };
  } finally {
    await harness.destroyNetwork(network);
  }
}
