/** What systemd reports for a unit: the three strings of `systemctl list-units`. */
export interface SystemdUnitState {
  loadState: string;
  activeState: string;
  subState: string;
}

/**
 * The agent's view of its host's systemd: write, link, start, stop and list fleet's units.
 * The D-Bus implementation is `createSystemdUnitManager`; `FakeUnitManager` is an in-memory
 * one with the same observable behaviour for fast tests of the agent.
 */
export interface UnitManager {
  /**
   * Unit files fleet wrote earlier (in the units directory), name → SHA-1 hex of the file
   * content; every file named like a unit the API accepts, of any type; other files are
   * ignored with a warning. Used at startup, and by the purge, to learn what is there.
   */
  listUnitFiles(): Promise<Map<string, string>>;
  /**
   * Writes the unit file (the canonical text), links it into systemd's runtime path and, if
   * the text has an [Install] section, enables it (runtime). Does not reload: systemd loads
   * a file it does not hold on first use; the caller reloads after unloads and enables.
   */
  load(name: string, text: string): Promise<void>;
  /**
   * Stops the unit, disables it, resets its failed state and deletes its file. The file is
   * kept only when the stop itself failed, so that the unit stays stoppable through fleet.
   */
  unload(name: string): Promise<void>;
  /** daemon-reload: once per batch that unloaded, replaced or enabled units. */
  reload(): Promise<void>;
  /** Enqueues a start job (mode `replace`) without waiting for it to finish. */
  start(name: string): Promise<void>;
  /** Enqueues a stop job (mode `replace`) without waiting for it to finish. */
  stop(name: string): Promise<void>;
  /**
   * States of the named units in one query. Names systemd does not know come back as
   * `not-found/inactive/dead`.
   */
  states(names: readonly string[]): Promise<Map<string, SystemdUnitState>>;
  /**
   * Registers a listener called whenever systemd signals a change of a unit's active or sub
   * state (for units loaded or asked about through this manager) and after every
   * daemon-reload. Calls come in bursts: the caller debounces. Querying `states` never
   * causes a call by itself. Returns what removes the listener.
   */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}

/** What systemd reports for a unit name it has no unit file for. */
export const UNKNOWN_UNIT_STATE: Readonly<SystemdUnitState> = Object.freeze({
  loadState: 'not-found',
  activeState: 'inactive',
  subState: 'dead',
});
