import { goFields } from '../go/text.js';
import { type UnitNameInfo, unitNameInfo } from '../unit/name.js';
import { FLEET_SECTION, type UnitFile } from '../unit/unit-file.js';
import type { Requirements } from './types.js';

/** Every `[X-Fleet]` key fleet understands, current and deprecated spellings. */
const KNOWN_REQUIREMENT_KEYS = new Set([
  'MachineID',
  'X-ConditionMachineID',
  'X-ConditionMachineBootID',
  'MachineOf',
  'X-ConditionMachineOf',
  'Conflicts',
  'X-Conflicts',
  'MachineMetadata',
  'X-ConditionMachineMetadata',
  'Global',
  'Replaces',
]);

/** `MachineID` spellings, in the order the first present one wins. */
const MACHINE_ID_KEYS = ['MachineID', 'X-ConditionMachineID', 'X-ConditionMachineBootID'];

/**
 * fleet's specifier expansion in `[X-Fleet]` values: plain sequential replacement of
 * `%n %N %p %i`, without systemd's unescaping.
 */
export function expandSpecifiers(value: string, info: UnitNameInfo): string {
  return value
    .replaceAll('%n', info.fullName)
    .replaceAll('%N', info.name)
    .replaceAll('%p', info.prefix)
    .replaceAll('%i', info.instance);
}

/**
 * Reads the `[X-Fleet]` values of a key for the unit called `unitName`, specifiers resolved.
 * An empty or dot-less name (as the API's option validation uses) resolves nothing.
 */
function requirementValues(unit: UnitFile, unitName: string, key: string): string[] {
  const values = unit.values(FLEET_SECTION, key);
  const info = unitNameInfo(unitName);
  return info === null ? [...values] : values.map((value) => expandSpecifiers(value, info));
}

const TRUTHY = new Set(['true', 'yes', '1', 'on', 't']);

export function isGlobalUnit(unit: UnitFile): boolean {
  const values = unit.values(FLEET_SECTION, 'Global');
  const last = values[values.length - 1];
  return last !== undefined && TRUTHY.has(last.toLowerCase());
}

/** The scheduling constraints of `unit` when it runs under the name `unitName`. */
export function jobRequirements(unitName: string, unit: UnitFile): Requirements {
  const read = (key: string) => requirementValues(unit, unitName, key);
  return {
    machineID: requiredMachineID(read),
    peers: [...read('X-ConditionMachineOf'), ...read('MachineOf')],
    conflicts: [...read('X-Conflicts'), ...read('Conflicts')].flatMap(goFields),
    replaces: read('Replaces'),
    metadata: requiredMetadata(read),
    global: isGlobalUnit(unit),
  };
}

function requiredMachineID(read: (key: string) => string[]): string | null {
  for (const key of MACHINE_ID_KEYS) {
    const first = read(key)[0];
    if (first !== undefined) return first;
  }
  return null;
}

/** `key=value` pairs; a pair without exactly one `=` or with an empty side is ignored. */
function requiredMetadata(read: (key: string) => string[]): Map<string, Set<string>> {
  const metadata = new Map<string, Set<string>>();
  for (const pair of [...read('X-ConditionMachineMetadata'), ...read('MachineMetadata')]) {
    const parts = pair.split('=');
    if (parts.length !== 2) continue;
    const [key, value] = parts as [string, string];
    if (key === '' || value === '') continue;
    const allowed = metadata.get(key) ?? new Set<string>();
    allowed.add(value);
    metadata.set(key, allowed);
  }
  return metadata;
}

/** `[X-Fleet]` keys fleet does not know, sorted; fleetctl warns about them, the API ignores them. */
export function unrecognizedRequirements(unit: UnitFile): string[] {
  const keys = unit.contents.get(FLEET_SECTION)?.keys() ?? [];
  return [...keys].filter((key) => !KNOWN_REQUIREMENT_KEYS.has(key)).sort();
}
