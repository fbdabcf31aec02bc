import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';

export class MachineIdentityError extends Error {
  override name = 'MachineIdentityError';
}

/** The machine ID fleet uses: `/etc/machine-id`, trimmed; the original's error if unusable. */
export function readMachineID(path = '/etc/machine-id'): string {
  let id = '';
  try {
    id = readFileSync(path, 'utf8').trim();
  } catch {
    // Reported below with the original's message.
  }
  if (id === '') throw new MachineIdentityError('unable to determine local machine ID');
  return id;
}

/**
 * Identifies this fleetd's registration across a crash but not a reboot: it lives in /run,
 * a tmpfs. A fleetd that comes back after SIGKILL finds its own token in its presence record
 * and takes the record over; another host with the same machine ID has another token.
 */
export function sessionToken(runDirectory = '/run/fleet'): string {
  const path = join(runDirectory, 'session-token');
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (existing !== '') return existing;
  } catch {
    // No token yet: this is the first fleetd since boot.
  }
  const token = randomUUID();
  mkdirSync(runDirectory, { recursive: true, mode: 0o755 });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}

/**
 * fleet's public IP detection: the interface of the first default route, then its first
 * global unicast IPv4 address; '' when there is no default route.
 */
export function detectPublicIP(routeTable = '/proc/net/route'): string {
  let table: string;
  try {
    table = readFileSync(routeTable, 'utf8');
  } catch {
    return '';
  }
  const defaultRoute = table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === '00000000' && fields[7] === '00000000');
  const iface = defaultRoute?.[0];
  if (iface === undefined) return '';
  const address = networkInterfaces()[iface]?.find(
    (candidate) => candidate.family === 'IPv4' && isGlobalUnicast(candidate.address),
  );
  return address?.address ?? '';
}

/** Go's `IP.IsGlobalUnicast` for IPv4: not unspecified, loopback, link-local, multicast or broadcast. */
function isGlobalUnicast(address: string): boolean {
  const [a, b] = address.split('.').map(Number) as [number, number];
  if (address === '0.0.0.0' || address === '255.255.255.255') return false;
  if (a === 127 || a >= 224) return false;
  return !(a === 169 && b === 254);
}
