import type { ApiMachine, ApiUnit, ApiUnitOption, ApiUnitState } from '../../src/api/schema.js';
import type { FleetClient } from '../../src/client/types.js';
import { jobRequirements } from '../../src/job/requirements.js';
import { unitNameInfo } from '../../src/unit/name.js';
import { UnitFile } from '../../src/unit/unit-file.js';

interface StoredUnit {
  name: string;
  options: ApiUnitOption[];
  desiredState: string;
  machineID?: string;
}

/** An API error as the HTTP driver renders one (fleet's googleapi text). */
export class FakeApiError extends Error {
  constructor(
    readonly status: number,
    /** The message of the API's error entity. */
    readonly apiMessage: string,
  ) {
    super(`googleapi: Error ${status}: ${apiMessage}`);
  }
}

/**
 * An in-memory fleet cluster behind the FleetClient interface, for fleetctl's tests. Its
 * "engine and agents" converge at once after every change: a unit wanted `loaded` or
 * `launched` is placed by its requirements (MachineID, MachineMetadata, MachineOf, Global)
 * and reports systemd states as a real agent would; an unplaceable unit stays `inactive`.
 */
export class FakeCluster implements FleetClient {
  readonly calls: string[] = [];
  private readonly stored = new Map<string, StoredUnit>();
  /** Fails the next call of that method with this error. */
  failNext = new Map<keyof FleetClient, Error>();

  constructor(readonly machineList: ApiMachine[]) {}

  /** Three machines like the recorded cluster's: metadata `name=<name>`, IP 127.0.0.1. */
  static withMachines(ids: Readonly<Record<string, string>>): FakeCluster {
    return new FakeCluster(
      Object.entries(ids).map(([id, name]) => ({
        id,
        metadata: { name },
        primaryIP: '127.0.0.1',
      })),
    );
  }

  private enter(method: keyof FleetClient, detail = ''): void {
    this.calls.push(detail === '' ? method : `${method} ${detail}`);
    const failure = this.failNext.get(method);
    if (failure !== undefined) {
      this.failNext.delete(method);
      throw failure;
    }
  }

  async machines(): Promise<ApiMachine[]> {
    this.enter('machines');
    return this.machineList.map((machine) => ({ ...machine }));
  }

  async unit(name: string): Promise<ApiUnit | null> {
    this.enter('unit', name);
    const unit = this.stored.get(name);
    return unit === undefined ? null : this.toApi(unit, 'omitted');
  }

  async units(): Promise<ApiUnit[]> {
    this.enter('units');
    return [...this.stored.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((unit) => this.toApi(unit, 'inactive'));
  }

  async unitStates(): Promise<ApiUnitState[]> {
    this.enter('unitStates');
    return this.allStates();
  }

  async unitState(name: string): Promise<ApiUnitState | null> {
    this.enter('unitState', name);
    const unit = this.stored.get(name);
    const states = this.allStates().filter((state) => state.name === name);
    return states.find((state) => state.machineID === unit?.machineID) ?? states[0] ?? null;
  }

  async createUnit(unit: ApiUnit): Promise<void> {
    this.enter('createUnit', unit.name);
    this.stored.set(unit.name, {
      name: unit.name,
      options: (unit.options ?? []).map((option) => ({ ...option })),
      desiredState: unit.desiredState ?? 'inactive',
    });
    this.converge();
  }

  async setUnitTargetState(name: string, desiredState: string): Promise<void> {
    this.enter('setUnitTargetState', `${name} ${desiredState}`);
    const unit = this.stored.get(name);
    if (unit === undefined) throw new FakeApiError(404, 'unit does not exist');
    if (desiredState !== 'inactive' && unitNameInfo(name)?.isTemplate === true) {
      throw new FakeApiError(400, `cannot activate template "${name}"`);
    }
    unit.desiredState = desiredState;
    this.converge();
  }

  async destroyUnit(name: string): Promise<void> {
    this.enter('destroyUnit', name);
    if (!this.stored.delete(name)) throw new FakeApiError(404, 'unit does not exist');
    this.converge();
  }

  async close(): Promise<void> {}

  private unitFile(unit: StoredUnit): UnitFile {
    return new UnitFile(unit.options);
  }

  private isGlobal(unit: StoredUnit): boolean {
    return jobRequirements(unit.name, this.unitFile(unit)).global;
  }

  /** The machines whose metadata satisfies the unit's MachineMetadata. */
  private eligible(unit: StoredUnit): ApiMachine[] {
    const requirements = jobRequirements(unit.name, this.unitFile(unit));
    return this.machineList.filter((machine) =>
      [...requirements.metadata].every(([key, values]) =>
        values.has(machine.metadata?.[key] ?? ''),
      ),
    );
  }

  /** The engine: unschedules inactive units, places the others where they may run. */
  private converge(): void {
    for (const unit of [...this.stored.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (this.isGlobal(unit) || unit.desiredState === 'inactive') {
        delete unit.machineID;
        continue;
      }
      if (unit.machineID !== undefined) continue;
      const requirements = jobRequirements(unit.name, this.unitFile(unit));
      let candidates = this.eligible(unit);
      if (requirements.machineID !== null) {
        candidates = candidates.filter((machine) => machine.id === requirements.machineID);
      }
      for (const peer of requirements.peers) {
        const peerMachine = this.stored.get(peer)?.machineID;
        candidates = candidates.filter((machine) => machine.id === peerMachine);
      }
      const target = candidates[0];
      if (target !== undefined) unit.machineID = target.id;
    }
  }

  private systemdState(unit: StoredUnit, machineID: string): ApiUnitState {
    const launched = unit.desiredState === 'launched';
    return {
      hash: this.unitFile(unit).hash,
      machineID,
      name: unit.name,
      systemdActiveState: launched ? 'active' : 'inactive',
      systemdLoadState: 'loaded',
      systemdSubState: launched ? 'running' : 'dead',
    };
  }

  private allStates(): ApiUnitState[] {
    const states: ApiUnitState[] = [];
    for (const unit of this.stored.values()) {
      if (this.isGlobal(unit)) {
        if (unit.desiredState === 'inactive') continue;
        for (const machine of this.eligible(unit)) states.push(this.systemdState(unit, machine.id));
      } else if (unit.machineID !== undefined) {
        states.push(this.systemdState(unit, unit.machineID));
      }
    }
    return states.sort(
      (a, b) => compare(a.name, b.name) || compare(a.machineID ?? '', b.machineID ?? ''),
    );
  }

  private toApi(unit: StoredUnit, globalCurrentState: 'inactive' | 'omitted'): ApiUnit {
    const global = this.isGlobal(unit);
    let currentState: string | undefined;
    if (global) {
      currentState = globalCurrentState === 'inactive' ? 'inactive' : undefined;
    } else if (unit.machineID === undefined) {
      currentState = 'inactive';
    } else {
      currentState = unit.desiredState === 'launched' ? 'launched' : 'loaded';
    }
    return {
      ...(currentState === undefined ? {} : { currentState }),
      desiredState: unit.desiredState,
      ...(unit.machineID === undefined ? {} : { machineID: unit.machineID }),
      name: unit.name,
      ...(unit.options.length === 0 ? {} : { options: unit.options.map((o) => ({ ...o })) }),
    };
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
