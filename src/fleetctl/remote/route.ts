/** Where a command for a unit's machine runs. */
export type CommandRoute = 'local' | 'fleet' | 'ssh';

export interface RouteFacts {
  /** The machine is the one fleetctl runs on (its `/etc/machine-id`). */
  onThisMachine: boolean;
  /** `SSH_AUTH_SOCK` in fleetctl's environment. */
  sshAuthSock: string | undefined;
  /** `--tunnel`, `''` when unset. */
  tunnel: string;
  /** fleetctl talks to the fleet API (the etcd driver reaches no fleetd). */
  apiDriver: boolean;
  /** fleet can run this command itself (`status`, `journal`). */
  fleetCanRun: boolean;
}

/**
 * fleet's order first: a command for this very machine runs here. Otherwise SSH as fleet
 * did whenever the user set SSH up (an agent or `--tunnel`), and through fleet when not:
 * without SSH the original could only fail (docs/fleetctl.md).
 */
export function commandRoute(facts: RouteFacts): CommandRoute {
  if (facts.onThisMachine) return 'local';
  const sshConfigured = (facts.sshAuthSock ?? '') !== '' || facts.tunnel !== '';
  if (!sshConfigured && facts.apiDriver && facts.fleetCanRun) return 'fleet';
  return 'ssh';
}
