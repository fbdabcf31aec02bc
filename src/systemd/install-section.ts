import { UnitFile } from '../unit/unit-file.js';

/** Whether a unit's text has an [Install] section: such units are enabled when loaded. */
export function hasInstallSection(text: string): boolean {
  return UnitFile.parse(text).contents.has('Install');
}
