import { describe, expect, it } from 'vitest';
import { etcdPlaintextWarning } from '../../src/server/etcd-plaintext-warning.js';

const NONE = { etcdCaFile: '', etcdCertFile: '', etcdKeyFile: '', etcdPassword: '' };
const HTTP = ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'];

describe('etcdPlaintextWarning', () => {
  it.each([
    { case: 'nothing set, plain http', servers: HTTP, set: {}, options: null },
    {
      case: 'a CA file, plain http',
      servers: HTTP,
      set: { etcdCaFile: '/ca.pem' },
      options: ['etcd_cafile'],
    },
    {
      case: 'a key pair and a password, plain http',
      servers: HTTP,
      set: { etcdCertFile: '/c.pem', etcdKeyFile: '/k.pem', etcdPassword: 'pw' },
      options: ['etcd_certfile', 'etcd_keyfile', 'etcd_password'],
    },
    {
      case: 'a password, an endpoint without a scheme',
      servers: ['10.0.0.1:2379'],
      set: { etcdPassword: 'pw' },
      options: ['etcd_password'],
    },
    {
      case: 'everything set, one https endpoint among http ones',
      servers: [...HTTP, 'https://10.0.0.3:2379'],
      set: { etcdCaFile: '/ca.pem', etcdPassword: 'pw' },
      options: null,
    },
    {
      case: 'a CA file, https only',
      servers: ['https://10.0.0.1:2379'],
      set: { etcdCaFile: '/ca.pem' },
      options: null,
    },
  ])('$case: warns about $options', ({ servers, set, options }) => {
    const warning = etcdPlaintextWarning({ ...NONE, ...set, etcdServers: servers });
    expect(warning?.options ?? null).toEqual(options);
  });

  it('says what happens to TLS files and to a password, and never prints the password', () => {
    const warning = etcdPlaintextWarning({
      ...NONE,
      etcdServers: HTTP,
      etcdCaFile: '/ca.pem',
      etcdPassword: 's3cret',
    });
    expect(warning?.msg).toBe(
      'etcd_cafile, etcd_password set but no etcd_servers endpoint is https://: the TLS files are not used and the password is sent in clear',
    );
  });

  it('mentions only the password when no TLS file is set', () => {
    const warning = etcdPlaintextWarning({ ...NONE, etcdServers: HTTP, etcdPassword: 'pw' });
    expect(warning?.msg).toBe(
      'etcd_password set but no etcd_servers endpoint is https://: the password is sent in clear',
    );
  });
});
