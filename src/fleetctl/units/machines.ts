import type { ApiMachine } from '../../api/schema.js';
import type { FleetClient } from '../../client/types.js';

const SHORT_ID_LENGTH = 8;

/** `113f16a7...`, or the whole ID with `--full`. */
export function machineIdLegend(machine: ApiMachine, full: boolean): string {
  return full ? machine.id : `${machine.id.slice(0, SHORT_ID_LENGTH)}...`;
}

/** `113f16a7.../172.17.8.103`: the ID legend, plus the address when there is one. */
export function machineFullLegend(machine: ApiMachine, full: boolean): string {
  const legend = machineIdLegend(machine, full);
  const ip = machine.primaryIP ?? '';
  return ip === '' ? legend : `${legend}/${ip}`;
}

/**
 * fleet's `cachedMachineState`: the machine list is read once per invocation, at first
 * need, and a failed read is not retried (the machine is then simply unknown).
 */
export class MachineCache {
  private loaded: Promise<Map<string, ApiMachine>> | undefined;

  constructor(private readonly client: FleetClient) {}

  async cached(id: string): Promise<ApiMachine | null> {
    this.loaded ??= this.client.machines().then(
      (machines) => new Map(machines.map((machine) => [machine.id, machine])),
      () => new Map(),
    );
    return (await this.loaded).get(id) ?? null;
  }

  /** fleet's `machineState`: a fresh read, whose errors reach the caller. */
  async fresh(id: string): Promise<ApiMachine | null> {
    return (await this.client.machines()).find((machine) => machine.id === id) ?? null;
  }
}
