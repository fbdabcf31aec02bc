/**
 * systemd socket activation as `sd_listen_fds(1)` does it: the passed descriptors start at 3,
 * `LISTEN_PID` must name this process, and the variables are removed either way so that
 * child processes do not take the sockets for theirs.
 */

/** The first descriptor systemd passes (`SD_LISTEN_FDS_START`). */
export const LISTEN_FDS_START = 3;

export class SocketActivationError extends Error {
  override name = 'SocketActivationError';
}

export function socketActivationListeners(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): Array<{ fd: number }> {
  const listenPid = env.LISTEN_PID;
  const listenFds = env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;

  if (listenPid === undefined) return [];
  if (!/^[1-9][0-9]*$/.test(listenPid)) {
    throw new SocketActivationError(`LISTEN_PID is not a process ID: ${JSON.stringify(listenPid)}`);
  }
  // Inherited from a parent that was activated: not ours.
  if (Number(listenPid) !== pid || listenFds === undefined) return [];
  if (!/^[0-9]+$/.test(listenFds) || Number(listenFds) < 1 || Number(listenFds) > 1024) {
    throw new SocketActivationError(
      `LISTEN_FDS must be a count of passed sockets, got ${JSON.stringify(listenFds)}`,
    );
  }
  return Array.from({ length: Number(listenFds) }, (_, index) => ({
    fd: LISTEN_FDS_START + index,
  }));
}
