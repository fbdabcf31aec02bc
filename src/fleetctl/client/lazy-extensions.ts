import type { MachineCordonsClient } from '../../client/machine-cordons.js';
import { NOT_SERVED } from '../../client/not-served.js';
import type { RolloutsClient } from '../../client/rollouts.js';

// These stand in for the extensions' clients until the driver exists. They live apart from
// those clients, which load zod: a command that never calls them must not pay for it.

/**
 * Cordons reached through a driver created at its first call; a driver without them (the
 * in-memory ones of tests) answers as an original fleetd would.
 */
export function lazyMachineCordons(
  cordons: () => Promise<MachineCordonsClient | undefined>,
): MachineCordonsClient {
  return {
    list: async () => (await cordons())?.list() ?? NOT_SERVED,
    cordon: async (machineID) => (await cordons())?.cordon(machineID) ?? NOT_SERVED,
    uncordon: async (machineID) => (await cordons())?.uncordon(machineID) ?? NOT_SERVED,
    drain: async (machineID, maxParallel) =>
      (await cordons())?.drain(machineID, maxParallel) ?? NOT_SERVED,
  };
}

/**
 * Rollouts reached through a driver created at its first call; a driver without them (the
 * in-memory ones of tests) answers as an original fleetd would.
 */
export function lazyRollouts(rollouts: () => Promise<RolloutsClient | undefined>): RolloutsClient {
  return {
    start: async (request) => (await rollouts())?.start(request) ?? NOT_SERVED,
    list: async () => (await rollouts())?.list() ?? NOT_SERVED,
    get: async (id) => (await rollouts())?.get(id) ?? NOT_SERVED,
    resume: async (id) => (await rollouts())?.resume(id) ?? NOT_SERVED,
    abort: async (id) => (await rollouts())?.abort(id) ?? NOT_SERVED,
  };
}
