import type { MethodCall, MethodCaller } from './bus-client.js';
import type { SystemdUnitState } from './unit-manager.js';

export const SYSTEMD_SERVICE = 'org.freedesktop.systemd1';
export const MANAGER_PATH = '/org/freedesktop/systemd1';
export const MANAGER_INTERFACE = 'org.freedesktop.systemd1.Manager';
/** Unit objects live beneath this path, one per unit (`.../unit/foo_2eservice`). */
export const UNIT_PATH_NAMESPACE = '/org/freedesktop/systemd1/unit';
export const UNIT_INTERFACE = 'org.freedesktop.systemd1.Unit';

/** One entry of the changes LinkUnitFiles, EnableUnitFiles and DisableUnitFiles report. */
export interface UnitFileChange {
  /** `symlink`, `unlink`, `destination not present`, ... */
  type: string;
  file: string;
  destination: string;
}

export interface ListedUnit extends SystemdUnitState {
  /** The unit's primary name: an alias asked for comes back under the name it aliases. */
  name: string;
}

/**
 * The methods of org.freedesktop.systemd1.Manager that fleet uses, typed. Each reply's
 * signature is checked by the bus client, so the casts below only restate it.
 */
export class SystemdManagerApi {
  constructor(private readonly bus: MethodCaller) {}

  /** Asks systemd to emit its unit and job signals to this connection; once per connection. */
  async subscribe(): Promise<void> {
    await this.call('Subscribe', '', [], '');
  }

  /** daemon-reload. */
  async reload(): Promise<void> {
    await this.call('Reload', '', [], '');
  }

  async linkUnitFiles(files: string[], runtime: boolean, force: boolean) {
    const [changes] = await this.call('LinkUnitFiles', 'asbb', [files, runtime, force], 'a(sss)');
    return toChanges(changes);
  }

  async enableUnitFiles(files: string[], runtime: boolean, force: boolean) {
    const [carriesInstallInfo, changes] = await this.call(
      'EnableUnitFiles',
      'asbb',
      [files, runtime, force],
      'ba(sss)',
    );
    return { carriesInstallInfo: carriesInstallInfo as boolean, changes: toChanges(changes) };
  }

  async disableUnitFiles(names: string[], runtime: boolean): Promise<UnitFileChange[]> {
    const [changes] = await this.call('DisableUnitFiles', 'asb', [names, runtime], 'a(sss)');
    return toChanges(changes);
  }

  async resetFailedUnit(name: string): Promise<void> {
    await this.call('ResetFailedUnit', 's', [name], '');
  }

  /** Enqueues a start job; resolves with the job's object path. */
  async startUnit(name: string, mode: string): Promise<string> {
    const [job] = await this.call('StartUnit', 'ss', [name, mode], 'o');
    return job as string;
  }

  /** Enqueues a stop job; resolves with the job's object path. */
  async stopUnit(name: string, mode: string): Promise<string> {
    const [job] = await this.call('StopUnit', 'ss', [name, mode], 'o');
    return job as string;
  }

  /**
   * One entry per valid name, loading units on demand (unknown ones are `not-found`).
   * systemd silently skips names that are not valid unit names.
   */
  async listUnitsByNames(names: string[]): Promise<ListedUnit[]> {
    const [units] = await this.call('ListUnitsByNames', 'as', [names], 'a(ssssssouso)');
    // (name, description, load, active, sub, following, path, job id, job type, job path)
    return (units as [string, string, string, string, string][]).map(
      ([name, , loadState, activeState, subState]) => ({ name, loadState, activeState, subState }),
    );
  }

  private call(
    member: string,
    signature: string,
    body: unknown[],
    replySignature: MethodCall['replySignature'],
  ): Promise<unknown[]> {
    return this.bus.call({
      destination: SYSTEMD_SERVICE,
      path: MANAGER_PATH,
      interface: MANAGER_INTERFACE,
      member,
      signature,
      body,
      replySignature,
    });
  }
}

function toChanges(changes: unknown): UnitFileChange[] {
  return (changes as [string, string, string][]).map(([type, file, destination]) => ({
    type,
    file,
    destination,
  }));
}

/** The job number at the end of a job's object path (`/org/freedesktop/systemd1/job/69`). */
export function jobIdOf(jobPath: string): string {
  return jobPath.slice(jobPath.lastIndexOf('/') + 1);
}
