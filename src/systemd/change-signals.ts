import type { Signal } from './bus-client.js';
import type { SignalSender } from './signal-sender.js';
import {
  MANAGER_INTERFACE,
  MANAGER_PATH,
  SYSTEMD_SERVICE,
  UNIT_INTERFACE,
  UNIT_PATH_NAMESPACE,
} from './systemd-api.js';

const PROPERTIES_INTERFACE = 'org.freedesktop.DBus.Properties';

/**
 * The signals that may mean a unit's state changed, as bus-wide match rules: a fixed pair
 * for the connection's lifetime, whatever the number of units (a proxy per unit would add a
 * match rule each, which dbus-next never removes; the system bus allows 512 per connection).
 *
 * - Unit PropertiesChanged carries ActiveState and SubState whenever they change, job or no
 *   job (a crashed service has no job).
 * - Reloading(false) ends a daemon-reload, which is when LoadState changes.
 *
 * JobRemoved, UnitNew and UnitRemoved are left out: whatever a job changes comes as a
 * PropertiesChanged too, and systemd emits UnitNew and UnitRemoved (and PropertiesChanged of
 * the unit's dependencies) every time ListUnitsByNames loads an inactive unit to answer and
 * drops it again, so a listener that queries states on change would wake itself forever.
 */
export const CHANGE_MATCH_RULES: readonly string[] = [
  [
    "type='signal'",
    `sender='${SYSTEMD_SERVICE}'`,
    `interface='${PROPERTIES_INTERFACE}'`,
    "member='PropertiesChanged'",
    `path_namespace='${UNIT_PATH_NAMESPACE}'`,
    `arg0='${UNIT_INTERFACE}'`,
  ].join(','),
  [
    "type='signal'",
    `sender='${SYSTEMD_SERVICE}'`,
    `path='${MANAGER_PATH}'`,
    `interface='${MANAGER_INTERFACE}'`,
    "member='Reloading'",
  ].join(','),
];

export type ChangeSignal =
  | { kind: 'reloaded' }
  | {
      kind: 'unit-properties';
      /** The unit's object path, e.g. `/org/freedesktop/systemd1/unit/foo_2eservice`. */
      path: string;
      /** Property name → value, unwrapped from its variant. */
      changed: Record<string, unknown>;
      invalidated: string[];
    };

/** What a signal that arrived means, or null for the others the bus sends. */
export function classifySignal(signal: Signal): ChangeSignal | null {
  if (signal.path === MANAGER_PATH && signal.interface === MANAGER_INTERFACE) {
    // Reloading(true) starts a reload, Reloading(false) ends it: only the end is news.
    return signal.member === 'Reloading' && signal.body[0] === false ? { kind: 'reloaded' } : null;
  }
  if (
    signal.interface !== PROPERTIES_INTERFACE ||
    signal.member !== 'PropertiesChanged' ||
    !signal.path.startsWith(`${UNIT_PATH_NAMESPACE}/`) ||
    signal.body[0] !== UNIT_INTERFACE
  ) {
    return null;
  }
  // (s interface, a{sv} changed, as invalidated); 64-bit timestamps among the values stay here.
  const variants = (signal.body[1] ?? {}) as Record<string, { value: unknown }>;
  const changed: Record<string, unknown> = {};
  for (const [name, variant] of Object.entries(variants)) changed[name] = variant.value;
  return {
    kind: 'unit-properties',
    path: signal.path,
    changed,
    invalidated: (signal.body[2] ?? []) as string[],
  };
}

/**
 * Hands every change signal systemd sent to `onChange`, and every signal from a sender that
 * is neither systemd nor the bus to `onStranger`. The signals flow once CHANGE_MATCH_RULES are
 * added on the connection, which a new connection must do again, and `sender` knows
 * systemd's unique name on it.
 */
export function watchChanges(
  bus: { onSignal(listener: (signal: Signal) => void): void },
  sender: SignalSender,
  onChange: (change: ChangeSignal) => void,
  onStranger: (signal: Signal) => void,
): void {
  bus.onSignal((signal) => {
    const verdict = sender.judge(signal);
    if (verdict === 'stranger') onStranger(signal);
    if (verdict !== 'owner') return;
    const change = classifySignal(signal);
    if (change !== null) onChange(change);
  });
}
