import type { ApiUnit } from '../../api/schema.js';
import { isGlobalUnit } from '../../job/requirements.js';
import { isRecognizedUnitType, mangleUnitArgument } from '../../unit/name.js';
import { UnitFile } from '../../unit/unit-file.js';

/** fleet's `maybeAppendDefaultUnitType`: `foo` → `foo.service`, paths kept. */
export function withDefaultUnitType(arg: string): string {
  return isRecognizedUnitType(arg) ? arg : `${arg}.service`;
}

/** fleet's `unitNameMangle`: the unit name an argument stands for. */
export const unitName = mangleUnitArgument;

/** The unit's options as a unit file. */
export function unitFileOf(unit: ApiUnit): UnitFile {
  return new UnitFile(unit.options ?? []);
}

/** fleet's `suToGlobal`. */
export function isGlobal(unit: ApiUnit): boolean {
  return isGlobalUnit(unitFileOf(unit));
}

/** fleet's `findUnits`: the registry's units named by the arguments, in argument order. */
export function selectUnits(units: readonly ApiUnit[], args: readonly string[]): ApiUnit[] {
  const byName = new Map(units.map((unit) => [unit.name, unit]));
  return args.flatMap((arg) => byName.get(unitName(arg)) ?? []);
}
