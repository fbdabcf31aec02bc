import type { CommandRun } from '../context.js';

interface CommandEntry {
  load: () => Promise<{ run: CommandRun }>;
  /** Whether the command talks to the cluster; the others only have the client checked. */
  connects: boolean;
}

/** Each command's module, imported only when that command runs. */
export const COMMAND_MODULES: Readonly<Record<string, CommandEntry>> = {
  cat: { load: () => import('./cat.js'), connects: true },
  cordon: { load: () => import('./cordon.js'), connects: true },
  destroy: { load: () => import('./destroy.js'), connects: true },
  drain: { load: () => import('./drain.js'), connects: true },
  events: { load: () => import('./events.js'), connects: true },
  'fd-forward': { load: () => import('./fd-forward.js'), connects: false },
  journal: { load: () => import('./journal.js'), connects: true },
  'list-machines': { load: () => import('./list-machines.js'), connects: true },
  'list-unit-files': { load: () => import('./list-unit-files.js'), connects: true },
  'list-units': { load: () => import('./list-units.js'), connects: true },
  load: { load: () => import('./load.js'), connects: true },
  restart: { load: () => import('./restart.js'), connects: true },
  rollout: { load: () => import('./rollout.js'), connects: true },
  ssh: { load: () => import('./ssh.js'), connects: true },
  start: { load: () => import('./start.js'), connects: true },
  status: { load: () => import('./status.js'), connects: true },
  stop: { load: () => import('./stop.js'), connects: true },
  submit: { load: () => import('./submit.js'), connects: true },
  uncordon: { load: () => import('./uncordon.js'), connects: true },
  unload: { load: () => import('./unload.js'), connects: true },
  verify: { load: () => import('./verify.js'), connects: false },
  version: { load: () => import('./version.js'), connects: false },
};
