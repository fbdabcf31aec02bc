import { execFile } from 'node:child_process';

/** Runs a rollout's health command for `unit`; resolves whether it succeeded. */
export type HealthCommandRunner = (command: string, unit: string) => Promise<boolean>;

/** How long a health command may run before it counts as failed. */
export const HEALTH_COMMAND_TIMEOUT_MS = 10_000;

/**
 * The command through `/bin/sh -c` as a child of fleetd on this machine, with `FLEET_UNIT`
 * naming the unit; exit status 0 within the timeout is success, anything else failure.
 */
export const runHealthCommand: HealthCommandRunner = (command, unit) =>
  new Promise((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', command],
      {
        timeout: HEALTH_COMMAND_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        env: { ...process.env, FLEET_UNIT: unit },
      },
      (err) => resolve(err === null),
    );
  });
