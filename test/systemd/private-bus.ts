// A private session bus for the D-Bus tests: a dbus-daemon of the test's own and a small
// service on it that answers, fails, or holds calls, and emits signals.
import { type ChildProcess, spawn } from 'node:child_process';
import { Message, type MessageBus, sessionBus } from 'dbus-next';
import type { MethodCall } from '../../src/systemd/bus-client.js';

export const DAEMON = '/usr/bin/dbus-daemon';
export const SERVICE = 'org.example.Probe';

export function method(member: string, replySignature = 's'): MethodCall {
  return {
    destination: SERVICE,
    path: '/org/example/Probe',
    interface: 'org.example.Probe',
    member,
    signature: '',
    body: [],
    replySignature,
  };
}

/** Starts a session bus daemon on a socket in `dir`; resolves with its address. */
export async function startDaemon(dir: string): Promise<{ daemon: ChildProcess; address: string }> {
  const daemon = spawn(
    DAEMON,
    ['--session', '--nofork', '--nopidfile', '--print-address=1', `--address=unix:path=${dir}/bus`],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const address = await new Promise<string>((resolve, reject) => {
    daemon.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    daemon.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}`)));
  });
  return { daemon, address };
}

/**
 * The other end: answers Echo with its name, Fail with an error, Wrong with a number, and
 * holds Hold calls (counting them) until `release()`.
 */
export async function startService(address: string) {
  const bus: MessageBus = sessionBus({ busAddress: address });
  const held: Message[] = [];
  let maxHeld = 0;
  bus.addMethodHandler((msg: Message) => {
    switch (msg.member) {
      case 'Echo':
        bus.send(Message.newMethodReturn(msg, 's', ['echo']));
        return true;
      case 'Fail':
        // types.d.ts says newError takes a string; the library takes the call being answered.
        bus.send(
          Message.newError(
            msg as unknown as string,
            'org.example.Error.Nope',
            'Unit x not loaded.',
          ),
        );
        return true;
      case 'Wrong':
        bus.send(Message.newMethodReturn(msg, 'u', [7]));
        return true;
      case 'Hold':
        held.push(msg);
        maxHeld = Math.max(maxHeld, held.length);
        return true;
      default:
        return false;
    }
  });
  await bus.requestName(SERVICE, 0);
  return {
    bus,
    held,
    get maxHeld() {
      return maxHeld;
    },
    release() {
      for (const msg of held.splice(0)) bus.send(Message.newMethodReturn(msg, 's', ['held']));
    },
    emit(member: string) {
      bus.send(Message.newSignal('/org/example/Probe', 'org.example.Probe', member, 's', ['x']));
    },
  };
}
