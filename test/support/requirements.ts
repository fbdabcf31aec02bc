import type { Requirements } from '../../src/job/types.js';

/** A unit's requirements: none at all, but for `overrides`. */
export function requirements(overrides: Partial<Requirements> = {}): Requirements {
  return {
    machineID: null,
    peers: [],
    conflicts: [],
    replaces: [],
    metadata: new Map(),
    global: false,
    ...overrides,
  };
}
