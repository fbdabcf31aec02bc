import { toApiMachine, toApiUnit, toApiUnitState } from '../api/entities.js';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../api/schema.js';
import { quoteString } from '../go/text.js';
import { parseJobState } from '../job/job.js';
import type { JobState } from '../job/types.js';
import type { BadRecordHandler } from '../registry/model.js';
import type { BatchEntry, RegistrySeam } from '../registry/ports.js';
import { connectRegistry } from '../registry/registry.js';
import { unitNameInfo } from '../unit/name.js';
import { UnitFile } from '../unit/unit-file.js';
import type { FleetClient } from './types.js';

/** How fleetctl's `--driver etcd` reaches the registry. */
export interface EtcdDriverOptions {
  endpoints: string[];
  keyPrefix: string;
  requestTimeoutMs: number;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A stored value that cannot be used is skipped; this hears about it. */
  onBadRecord?: BadRecordHandler;
}

/** The unit to change or destroy does not exist (the API answers 404 there). */
export class UnitNotFoundError extends Error {
  override name = 'UnitNotFoundError';
  readonly status = 404;
}

export function createEtcdDriver(options: EtcdDriverOptions): EtcdDriver {
  const registry = connectRegistry(
    {
      endpoints: options.endpoints,
      caFile: options.caFile,
      certFile: options.certFile,
      keyFile: options.keyFile,
      username: '',
      password: '',
      requestTimeoutMs: options.requestTimeoutMs,
    },
    options.keyPrefix,
    options.onBadRecord ?? (() => {}),
  );
  return new EtcdDriver(registry);
}

/**
 * fleet's `RegistryClient`: the client API straight over the registry, for clusters whose
 * API is unreachable. Units and states are derived by the same cluster view the HTTP API
 * serves, so both drivers show the same cluster the same way.
 */
export class EtcdDriver implements FleetClient {
  constructor(private readonly registry: RegistrySeam) {}

  async machines(): Promise<ApiMachine[]> {
    return (await this.registry.cluster.machines()).map(toApiMachine);
  }

  async unit(name: string): Promise<ApiUnit | null> {
    const unit = await this.registry.cluster.unit(name);
    return unit === null ? null : toApiUnit(unit, 'omitted');
  }

  async units(): Promise<ApiUnit[]> {
    return (await this.registry.cluster.units()).map((unit) =>
      toApiUnit(unit, 'inactive-in-lists'),
    );
  }

  async unitStates(): Promise<ApiUnitState[]> {
    return (await this.registry.cluster.unitStates()).map(toApiUnitState);
  }

  /** The state reported by the machine the unit is scheduled to, else by any machine. */
  async unitState(name: string): Promise<ApiUnitState | null> {
    const [unit, states] = await Promise.all([
      this.registry.cluster.unit(name),
      this.registry.states.forUnit(name),
    ]);
    const state = states.find((s) => s.machineID === unit?.machineID) ?? states[0];
    return state === undefined ? null : toApiUnitState(state);
  }

  async createUnit(unit: ApiUnit): Promise<void> {
    const { unitFile, desiredState } = contentOf(unit);
    await this.registry.units.put(unit.name, unitFile, desiredState);
    // It may have replaced another content, now referenced by no unit.
    this.registry.unitFileCollector.sweepSoon();
  }

  async setUnitTargetState(name: string, desiredState: string): Promise<void> {
    const state = activatableState(name, desiredState);
    if (!(await this.registry.units.setDesiredState(name, state))) {
      throw new UnitNotFoundError(`unit ${name} does not exist`);
    }
  }

  /**
   * The batch path straight into etcd: a unit with options (even none) is created or replaced
   * as by `createUnit`, one without them gets its desired state as by `setUnitTargetState`, with their
   * errors; all in as few transactions as the registry takes.
   */
  async writeUnits(units: readonly ApiUnit[]): Promise<Array<Error | null>> {
    const errors: Array<Error | null> = units.map(() => null);
    const entries: BatchEntry[] = [];
    const positions: number[] = [];
    units.forEach((unit, position) => {
      let entry: BatchEntry;
      try {
        entry = batchEntryOf(unit, (error) => {
          errors[position] = error;
        });
      } catch (err) {
        errors[position] = err instanceof Error ? err : new Error(String(err));
        return;
      }
      entries.push(entry);
      positions.push(position);
    });
    const results = await this.registry.units.applyBatch(entries);
    results.forEach((result, index) => {
      if (result.outcome !== 'failed') return;
      const { error } = result;
      errors[positions[index]!] = error instanceof Error ? error : new Error(String(error));
    });
    if (units.some((unit) => unit.options !== undefined)) {
      this.registry.unitFileCollector.sweepSoon();
    }
    return errors;
  }

  async destroyUnit(name: string): Promise<void> {
    if (!(await this.registry.units.destroy(name))) {
      throw new UnitNotFoundError(`unit ${name} does not exist`);
    }
    this.registry.unitFileCollector.sweepSoon();
  }

  /** The versions the live fleetds registered, for fleetctl's "you are outdated" warning. */
  async daemonVersions(): Promise<string[]> {
    return (await this.registry.cluster.machines()).map((machine) => machine.version);
  }

  async close(): Promise<void> {
    // Best effort: a sweep that fails leaves its garbage to the next one.
    await this.registry.unitFileCollector.flush();
    this.registry.close();
  }
}

/** The content and desired state `createUnit` gives a unit (no desired state: `inactive`). */
function contentOf(unit: ApiUnit): { unitFile: UnitFile; desiredState: JobState } {
  const desiredState: JobState =
    unit.desiredState === undefined || unit.desiredState === ''
      ? 'inactive'
      : parseJobState(unit.desiredState);
  const options = (unit.options ?? []).map(({ section, name, value }) => ({
    section,
    name,
    value,
  }));
  return { unitFile: new UnitFile(options), desiredState };
}

/** The desired state `setUnitTargetState` sets; throws its errors. */
function activatableState(name: string, desiredState: string): JobState {
  const state = parseJobState(desiredState);
  // An agent cannot run a template, so the API refuses to activate one; so does this.
  if (state !== 'inactive' && unitNameInfo(name)?.isTemplate === true) {
    throw new Error(`cannot activate template ${quoteString(name)}`);
  }
  return state;
}

/**
 * A unit of a batch, decided as its single write would be; `fail` hears the error that write
 * would have thrown, or null when a later decision (the unit changed meanwhile) clears it.
 */
function batchEntryOf(unit: ApiUnit, fail: (error: Error | null) => void): BatchEntry {
  const { name } = unit;
  if (unit.options !== undefined) {
    const change = { type: 'put' as const, ...contentOf(unit) };
    return { name, decide: () => change };
  }
  const desiredState = activatableState(name, unit.desiredState ?? '');
  return {
    name,
    decide: (current) => {
      fail(current === null ? new UnitNotFoundError(`unit ${name} does not exist`) : null);
      return current === null ? null : { type: 'desired-state', desiredState };
    },
  };
}
