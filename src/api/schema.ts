/**
 * The JSON entities of the HTTP API v1, as fleet's discovery document defines them. Field
 * order here is the order fleet emits them in (alphabetical, as Go's struct order was).
 */

export interface ApiUnitOption {
  name: string;
  section: string;
  value: string;
}

export interface ApiUnit {
  currentState?: string;
  desiredState?: string;
  machineID?: string;
  name: string;
  options?: ApiUnitOption[];
}

export interface ApiUnitState {
  hash?: string;
  machineID?: string;
  name: string;
  systemdActiveState?: string;
  systemdLoadState?: string;
  systemdSubState?: string;
}

export interface ApiMachine {
  id: string;
  metadata?: Record<string, string>;
  primaryIP?: string;
}
