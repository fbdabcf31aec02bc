import { validateUnitName } from '../unit/name.js';

/**
 * Rejects a name that is not a valid unit name before it becomes a path in the units
 * directory or a D-Bus argument (a name with `/` would write outside the directory).
 */
export function assertValidUnitName(name: string): void {
  const problem = validateUnitName(name);
  if (problem !== null) throw new Error(`Invalid unit name ${JSON.stringify(name)}: ${problem}`);
}
