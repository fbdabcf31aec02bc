/**
 * The etcd key layout: the only place in the project that knows key names. Documented in
 * docs/registry.md. Every key lives under the configured prefix (`etcd_key_prefix`).
 */

import { DEFAULT_KEY_PREFIX } from '../config/defaults.js';

/** Normalises a configured prefix to exactly one trailing slash, as fleet's path.Join did. */
export function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  return `${trimmed.startsWith('/') ? '' : '/'}${trimmed}/`;
}

export class RegistryKeys {
  readonly prefix: string;

  constructor(prefix: string = DEFAULT_KEY_PREFIX) {
    this.prefix = normalisePrefix(prefix);
  }

  /** Unit records: name, content hash, desired state. Written by API clients. */
  get unitsPrefix(): string {
    return `${this.prefix}units/`;
  }
  unit(name: string): string {
    return `${this.unitsPrefix}${name}`;
  }

  /** Canonical unit-file text, addressed by its SHA-1. */
  get unitFilesPrefix(): string {
    return `${this.prefix}unit-files/`;
  }
  unitFile(hash: string): string {
    return `${this.unitFilesPrefix}${hash}`;
  }

  /** Global units again, so every agent can watch just these instead of every unit. */
  get globalUnitsPrefix(): string {
    return `${this.prefix}global/`;
  }
  globalUnit(name: string): string {
    return `${this.globalUnitsPrefix}${name}`;
  }

  /** The machine a non-global unit is scheduled to. */
  get placementsPrefix(): string {
    return `${this.prefix}placement/`;
  }
  placement(name: string): string {
    return `${this.placementsPrefix}${name}`;
  }

  /** One machine's schedule: what its agent watches, and nothing else of the job tree. */
  schedulePrefix(machineID: string): string {
    return `${this.prefix}schedule/${machineID}/`;
  }
  get allSchedulesPrefix(): string {
    return `${this.prefix}schedule/`;
  }
  scheduleEntry(machineID: string, name: string): string {
    return `${this.schedulePrefix(machineID)}${name}`;
  }

  /** Machine presence, held by the machine's lease. */
  get machinesPrefix(): string {
    return `${this.prefix}machines/`;
  }
  machine(machineID: string): string {
    return `${this.machinesPrefix}${machineID}`;
  }

  /** Metadata set through the API; outlives the machine's presence. */
  machineMetadataPrefix(machineID: string): string {
    return `${this.prefix}machine-metadata/${machineID}/`;
  }
  get allMachineMetadataPrefix(): string {
    return `${this.prefix}machine-metadata/`;
  }
  machineMetadata(machineID: string, key: string): string {
    return `${this.machineMetadataPrefix(machineID)}${key}`;
  }

  /** Unit states published by agents, held by the publishing machine's lease. */
  get statesPrefix(): string {
    return `${this.prefix}states/`;
  }
  unitStatesPrefix(name: string): string {
    return `${this.statesPrefix}${name}/`;
  }
  unitState(name: string, machineID: string): string {
    return `${this.unitStatesPrefix(name)}${machineID}`;
  }

  /** Cordoned machines and their drains: durable, so a cordon outlives fleetd restarts. */
  get cordonsPrefix(): string {
    return `${this.prefix}cordons/`;
  }
  cordon(machineID: string): string {
    return `${this.cordonsPrefix}${machineID}`;
  }

  /** Rolling updates, driven by the engine leader: durable, under no lease. */
  get rolloutsPrefix(): string {
    return `${this.prefix}rollouts/`;
  }
  rollout(id: string): string {
    return `${this.rolloutsPrefix}${id}`;
  }

  /** The content a rollout holds a machine's unit to, which its agent runs instead. */
  rolloutPinsPrefix(machineID: string): string {
    return `${this.prefix}rollout-pins/${machineID}/`;
  }
  rolloutPin(machineID: string, name: string): string {
    return `${this.rolloutPinsPrefix(machineID)}${name}`;
  }

  /** Results of rollouts' health commands, held by the reporting machine's lease. */
  get rolloutHealthPrefix(): string {
    return `${this.prefix}rollout-health/`;
  }
  rolloutHealth(machineID: string, name: string): string {
    return `${this.rolloutHealthPrefix}${machineID}/${name}`;
  }

  /** Engine leadership, held by the leader machine's lease. */
  get engineLeader(): string {
    return `${this.prefix}engine/leader`;
  }

  /** The last path segment after `prefix`, or null when the key is not directly under it. */
  static nameUnder(prefix: string, key: string): string | null {
    if (!key.startsWith(prefix)) return null;
    const rest = key.slice(prefix.length);
    return rest === '' || rest.includes('/') ? null : rest;
  }

  /** `[first, second]` for a key shaped `prefix first/second`, else null. */
  static pairUnder(prefix: string, key: string): [string, string] | null {
    if (!key.startsWith(prefix)) return null;
    const parts = key.slice(prefix.length).split('/');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') return null;
    return [parts[0]!, parts[1]!];
  }
}
