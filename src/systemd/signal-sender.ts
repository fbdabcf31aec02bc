import type { Signal } from './bus-client.js';

/** The bus daemon's own name: the sender of NameOwnerChanged. */
export const BUS_NAME = 'org.freedesktop.DBus';
const BUS_PATH = '/org/freedesktop/DBus';

/** Who sent a signal, as far as acting on it goes. */
export type SenderVerdict =
  /** The current owner of the watched name: act on it. */
  | 'owner'
  /** The bus daemon (NameAcquired, NameOwnerChanged): never a change of the watched service. */
  | 'bus'
  /** Anyone else: another program on the bus, perhaps forging the service's signals. */
  | 'stranger';

/**
 * The match rule for NameOwnerChanged of `name`: the service's unique name changes when it
 * re-executes or reconnects to the bus.
 */
export function ownerMatchRule(name: string): string {
  return [
    "type='signal'",
    `sender='${BUS_NAME}'`,
    `path='${BUS_PATH}'`,
    `interface='${BUS_NAME}'`,
    "member='NameOwnerChanged'",
    `arg0='${name}'`,
  ].join(',');
}

/**
 * Tells the signals of the service owning a well-known name from anyone else's. A signal
 * carries the sender's unique name (`:1.7`), never the well-known one, and any peer may send
 * a signal straight to fleetd's connection, whatever its match rules: the sender is only
 * trusted when it is the name's current owner, learnt from GetNameOwner and followed through
 * NameOwnerChanged, which only the bus daemon can send.
 */
export class SignalSender {
  private owner: string | null = null;

  constructor(readonly name: string) {}

  /** The owner GetNameOwner reported on a new connection; null when the name has none. */
  ownedBy(owner: string | null): void {
    this.owner = owner === '' ? null : owner;
  }

  /** Judges a signal's sender, following the name's owner when the bus says it changed. */
  judge(signal: Signal): SenderVerdict {
    if (signal.sender === BUS_NAME) {
      if (
        signal.path === BUS_PATH &&
        signal.interface === BUS_NAME &&
        signal.member === 'NameOwnerChanged' &&
        signal.body[0] === this.name
      ) {
        // (s name, s old_owner, s new_owner); an empty new owner means the name is gone.
        this.ownedBy(typeof signal.body[2] === 'string' ? signal.body[2] : null);
      }
      return 'bus';
    }
    return this.owner !== null && signal.sender === this.owner ? 'owner' : 'stranger';
  }
}
