import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FleetConfig, loadConfig } from '../../src/config/index.js';
import { peerOptionsProblem, readPeerCredentials, splitHostPort } from '../../src/server/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-peer-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configWith(env: Record<string, string>): FleetConfig {
  return loadConfig({ env, defaultPath: '/nonexistent/fleet.conf' }).config;
}

const ALL = {
  FLEET_PEER_CERT_FILE: join(dir, 'peer.crt'),
  FLEET_PEER_KEY_FILE: join(dir, 'peer.key'),
  FLEET_PEER_CA_FILE: join(dir, 'ca.crt'),
  FLEET_PEER_ADDRESS: '10.0.0.7:54729',
};

describe('the peer options: all or none', () => {
  it('none set: no peer listener, nothing read', () => {
    expect(peerOptionsProblem(configWith({}))).toBeNull();
    expect(readPeerCredentials(configWith({}))).toBeNull();
  });

  it('some set: fleetd refuses to start, naming what is missing', () => {
    const { FLEET_PEER_ADDRESS: _, FLEET_PEER_CA_FILE: __, ...partial } = ALL;
    const message =
      'peer_cert_file, peer_key_file, peer_ca_file and peer_address must be set together; missing: peer_ca_file, peer_address';
    expect(peerOptionsProblem(configWith(partial))).toBe(message);
    expect(() => readPeerCredentials(configWith(partial))).toThrow('must be set together');
  });

  it('all set: the files are read once, and an unreadable one is named', () => {
    writeFileSync(ALL.FLEET_PEER_CERT_FILE, 'cert');
    writeFileSync(ALL.FLEET_PEER_KEY_FILE, 'key');
    expect(() => readPeerCredentials(configWith(ALL))).toThrow(
      `peer_ca_file ${ALL.FLEET_PEER_CA_FILE}: `,
    );
    writeFileSync(ALL.FLEET_PEER_CA_FILE, 'ca');
    const credentials = readPeerCredentials(configWith(ALL));
    expect(credentials).toEqual({
      cert: Buffer.from('cert'),
      key: Buffer.from('key'),
      ca: Buffer.from('ca'),
      address: '10.0.0.7:54729',
    });
  });
});

describe('a peer address as host and port', () => {
  it.each([
    ['10.0.0.7:54729', { host: '10.0.0.7', port: 54729 }],
    ['[fd00::7]:54729', { host: 'fd00::7', port: 54729 }],
    ['m1.cluster:1', { host: 'm1.cluster', port: 1 }],
  ])('%s', (address, expected) => {
    expect(splitHostPort(address)).toEqual(expected);
  });
});
