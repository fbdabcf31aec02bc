import { describe, expect, it } from 'vitest';
import { commandRoute, type RouteFacts } from '../../../src/fleetctl/remote/route.js';

const NO_SSH: RouteFacts = {
  onThisMachine: false,
  sshAuthSock: undefined,
  tunnel: '',
  apiDriver: true,
  fleetCanRun: true,
};

describe('where status and journal run', () => {
  it('runs a command for this very machine here, whatever else is set up', () => {
    expect(commandRoute({ ...NO_SSH, onThisMachine: true })).toBe('local');
    expect(
      commandRoute({ ...NO_SSH, onThisMachine: true, sshAuthSock: '/tmp/agent', tunnel: 'h:22' }),
    ).toBe('local');
  });

  it('asks fleet when no SSH is set up and the API driver is used', () => {
    expect(commandRoute(NO_SSH)).toBe('fleet');
    expect(commandRoute({ ...NO_SSH, sshAuthSock: '' })).toBe('fleet');
  });

  it('keeps the original SSH path with an agent or a tunnel', () => {
    expect(commandRoute({ ...NO_SSH, sshAuthSock: '/tmp/agent' })).toBe('ssh');
    expect(commandRoute({ ...NO_SSH, tunnel: '10.0.0.1:22' })).toBe('ssh');
  });

  it('keeps the SSH path with the etcd driver, which reaches no fleetd', () => {
    expect(commandRoute({ ...NO_SSH, apiDriver: false })).toBe('ssh');
  });

  it('keeps the SSH path for commands fleet does not run (restart of a global unit)', () => {
    expect(commandRoute({ ...NO_SSH, fleetCanRun: false })).toBe('ssh');
  });
});
