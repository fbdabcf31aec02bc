import type { FleetConfig } from '../config/index.js';

type EtcdSecurityOptions = Pick<
  FleetConfig,
  'etcdServers' | 'etcdCaFile' | 'etcdCertFile' | 'etcdKeyFile' | 'etcdPassword'
>;

/** What fleetd says at start when etcd options meant to protect it have no effect. */
export interface EtcdPlaintextWarning {
  /** The options set in vain, by their configuration names. */
  options: string[];
  msg: string;
}

/**
 * The TLS files only apply to `https://` endpoints (as in fleet), so with none of them they
 * are dropped, and a password travels in clear. fleet said nothing; an operator who set
 * them believes etcd is protected.
 */
export function etcdPlaintextWarning(config: EtcdSecurityOptions): EtcdPlaintextWarning | null {
  if (config.etcdServers.some((endpoint) => endpoint.startsWith('https://'))) return null;
  const set = (
    [
      ['etcd_cafile', config.etcdCaFile],
      ['etcd_certfile', config.etcdCertFile],
      ['etcd_keyfile', config.etcdKeyFile],
      ['etcd_password', config.etcdPassword],
    ] as const
  ).filter(([, value]) => value !== '');
  if (set.length === 0) return null;
  const options = set.map(([name]) => name);
  const tls = options.filter((name) => name !== 'etcd_password');
  const effects = [
    ...(tls.length > 0 ? ['the TLS files are not used'] : []),
    ...(config.etcdPassword !== '' ? ['the password is sent in clear'] : []),
  ];
  return {
    options,
    msg: `${options.join(', ')} set but no etcd_servers endpoint is https://: ${effects.join(' and ')}`,
  };
}
