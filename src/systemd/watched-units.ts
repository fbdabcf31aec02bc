import { UNIT_PATH_NAMESPACE } from './systemd-api.js';

interface ActiveStates {
  activeState: string;
  subState: string;
}

/**
 * The units the caller cares about (loaded or asked about, until unloaded) with the active
 * and sub state it last learnt. A property change is news only when it changes those:
 * systemd re-announces unchanged states of a unit's dependencies whenever it loads the unit,
 * which every query of an inactive unit does.
 */
export class WatchedUnits {
  /** null: watched, state not known yet (any change is news). */
  private readonly units = new Map<string, ActiveStates | null>();

  watch(name: string): void {
    if (!this.units.has(name)) this.units.set(name, null);
  }

  /** Remembers what a query answered. */
  record(name: string, state: ActiveStates): void {
    this.units.set(name, { activeState: state.activeState, subState: state.subState });
  }

  names(): string[] {
    return [...this.units.keys()];
  }

  forget(name: string): void {
    this.units.delete(name);
  }

  /**
   * Applies a Unit PropertiesChanged; true when it changes a watched unit's active or sub
   * state (then remembered).
   */
  apply(path: string, changed: Record<string, unknown>, invalidated: readonly string[]): boolean {
    const name = unitNameOfPath(path);
    if (name === null || !this.units.has(name)) return false;
    const known = this.units.get(name) ?? null;
    const { ActiveState: activeState, SubState: subState } = changed;
    if (typeof activeState !== 'string' || typeof subState !== 'string') {
      // Not announced with values: news only if systemd says the states changed.
      if (!invalidated.includes('ActiveState') && !invalidated.includes('SubState')) return false;
      this.units.set(name, null);
      return true;
    }
    this.units.set(name, { activeState, subState });
    return known === null || known.activeState !== activeState || known.subState !== subState;
  }
}

/**
 * The unit name of a unit object path: systemd writes every byte other than [A-Za-z0-9] of
 * the name as `_` and two lower-case hex digits (`foo_2eservice` is `foo.service`).
 */
export function unitNameOfPath(path: string): string | null {
  const prefix = `${UNIT_PATH_NAMESPACE}/`;
  if (!path.startsWith(prefix)) return null;
  const label = path.slice(prefix.length);
  if (!/^(?:[A-Za-z0-9]|_[0-9a-f]{2})+$/.test(label)) return null;
  const bytes = label.replace(/_([0-9a-f]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
  return Buffer.from(bytes, 'latin1').toString('utf8');
}
