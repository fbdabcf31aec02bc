import { validateUnitName } from '../unit/name.js';

/**
 * Rejects a name that is not a valid unit name before it becomes a path in the units
 * directory or a D-Bus argument (a name with `/` would write outside the directory).
 */
export function assertValidUnitName(name: string): void {
  const problem = validateUnitName(name);
  if (problem !== null) throw new Error(`Invalid unit name ${JSON.stringify(name)}: ${problem}`);
}

/**
 * Whether a file in the units directory is one of fleet's units: any name the API accepts,
 * so `.target`, `.slice`, `.swap` and the others are found after a restart and purged on a
 * graceful stop, not only the types fleetctl recognises by name.
 */
export function isUnitFileName(name: string): boolean {
  return validateUnitName(name) === null;
}
