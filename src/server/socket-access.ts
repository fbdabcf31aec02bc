import { chmod, chown, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { z } from 'zod';

/** Who may use an API socket fleetd creates: root and this group, as `fleet.socket` says. */
export const SOCKET_GROUP = 'fleet';
export const SOCKET_MODE = 0o660;

const GROUP_FILE = '/etc/group';

const gidSchema = z.coerce.number().int().nonnegative();

/** The gid of `name` in the text of an /etc/group file, or null when it is not there. */
export function groupIdIn(groupFile: string, name: string): number | null {
  for (const line of groupFile.split('\n')) {
    // name:password:gid:members
    const [entry, , gid] = line.split(':');
    if (entry !== name || gid === undefined) continue;
    const parsed = gidSchema.safeParse(gid === '' ? undefined : gid);
    return parsed.success ? parsed.data : null;
  }
  return null;
}

/**
 * Gives a unix socket fleetd created for `api_listen` the access `fleet.socket` gives its own:
 * mode 0660, group `fleet` when that group exists. Whoever can connect to the API runs any
 * command as root on every machine; left to fleetd's umask, the socket's access would be
 * whatever that umask happens to allow.
 */
export async function restrictApiSocket(
  path: string,
  log: Logger,
  groupFile = GROUP_FILE,
): Promise<void> {
  await chmod(path, SOCKET_MODE);
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  const gid = groupIdIn(text, SOCKET_GROUP);
  if (gid === null) {
    log.warn(
      { socket: path, group: SOCKET_GROUP },
      `Group ${SOCKET_GROUP} does not exist: only root may use the API socket ${path}`,
    );
    return;
  }
  try {
    // -1 keeps the owner: fleetd's user.
    await chown(path, -1, gid);
  } catch (err) {
    // A fleetd not running as root may only give its sockets its own groups; the socket
    // stays 0660 with fleetd's group, which is stricter.
    log.warn(
      { err, socket: path, group: SOCKET_GROUP },
      `Cannot give ${path} to group ${SOCKET_GROUP}`,
    );
  }
}
