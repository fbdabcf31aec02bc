import type { FleetConfig } from '../config/index.js';

/**
 * Options that shape what fleetd opened at startup (its API listeners, the systemd connection
 * and the directory its unit files are in): a SIGHUP reload cannot apply them.
 */
const RESTART_ONLY: ReadonlyArray<readonly [string, (config: FleetConfig) => unknown]> = [
  ['api_listen', (config) => config.apiListen],
  ['units_directory', (config) => config.unitsDirectory],
  ['systemd_user', (config) => config.systemdUser],
];

/** The fleet.conf names of the restart-only options whose value differs from fleetd's start. */
export function restartOnlyChanges(running: FleetConfig, reloaded: FleetConfig): string[] {
  return RESTART_ONLY.filter(([, read]) => read(running) !== read(reloaded)).map(([name]) => name);
}
