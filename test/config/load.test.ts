import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, type FleetConfig, loadConfig } from '../../src/config/index.js';

let dir: string;
let missingDefault: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-config-'));
  missingDefault = join(dir, 'no-such-default.conf');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(...lines: string[]): string {
  const path = join(dir, 'fleet.conf');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Loads with no default file, so the host's /etc/fleet/fleet.conf never leaks in. */
function load(env: Record<string, string | undefined> = {}, path?: string) {
  return loadConfig({ path, env, defaultPath: missingDefault });
}

function loadError(env: Record<string, string | undefined>, path?: string): ConfigError {
  try {
    load(env, path);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

const BOOLEAN = 'expected a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)';
const TOKEN_LIMIT = 'expected an integer from 1 to 65535';

const DEFAULTS: FleetConfig = {
  verbosity: 0,
  etcdServers: ['http://127.0.0.1:2379', 'http://127.0.0.1:4001'],
  etcdUsername: '',
  etcdPassword: '',
  etcdKeyFile: '',
  etcdCertFile: '',
  etcdCaFile: '',
  etcdKeyPrefix: '/_coreos.com/fleet/',
  etcdRequestTimeoutMs: 1_000,
  engineReconcileIntervalMs: 2_000,
  publicIP: '',
  metadata: {},
  agentTtlMs: 30_000,
  unitsDirectory: '/run/fleet/units/',
  systemdUser: false,
  tokenLimit: 100,
  enableGrpc: false,
  disableEngine: false,
  disableWatches: false,
  apiListen: '',
  apiTlsCertFile: '',
  apiTlsKeyFile: '',
  apiClientCaFile: '',
  apiInsecureTcp: false,
  apiAccessFile: '/etc/fleet/access.json',
  peerCertFile: '',
  peerKeyFile: '',
  peerCaFile: '',
  peerAddress: '',
};

describe('defaults', () => {
  it('gives fleet v1.0 defaults when there is no file and no FLEET_ variable', () => {
    const { config, file, notices } = load({ PATH: '/usr/bin', HOME: '/root' });
    expect(config).toEqual(DEFAULTS);
    expect(file).toBeNull();
    expect(notices).toEqual([
      { level: 'info', msg: 'No provided or default config file found - proceeding without' },
    ]);
  });
});

describe('sources and precedence', () => {
  it('reads every option from the file', () => {
    const path = writeConfig(
      'verbosity = 2',
      'etcd_servers = http://e1:2379,http://e2:2379',
      'etcd_username = fleet',
      'etcd_password = "s3cr#t"',
      'etcd_keyfile = /etc/fleet/key.pem',
      'etcd_certfile = /etc/fleet/cert.pem',
      'etcd_cafile = /etc/fleet/ca.pem',
      'etcd_key_prefix = /custom/',
      'etcd_request_timeout = 2.5',
      'engine_reconcile_interval = 0.5',
      'public_ip = 10.0.0.7',
      'metadata = region=us-west,disk=ssd',
      'agent_ttl = 1m30s',
      'units_directory = /tmp/units/',
      'systemd_user = true',
      'token_limit = 0x20',
      'enable_grpc = 1',
      'disable_engine = T',
      'disable_watches = True',
      'api_listen = 127.0.0.1:49153',
      'api_tls_cert_file = /etc/fleet/api.pem',
      'api_tls_key_file = /etc/fleet/api-key.pem',
      'api_client_ca_file = /etc/fleet/clients-ca.pem',
      'api_insecure_tcp = true',
      'api_access_file = /etc/fleet/grants.json',
      'peer_cert_file = /etc/fleet/peer.crt',
      'peer_key_file = /etc/fleet/peer.key',
      'peer_ca_file = /etc/fleet/ca.crt',
      'peer_address = 10.0.0.7:54729',
    );
    expect(load({}, path).config).toEqual({
      verbosity: 2,
      etcdServers: ['http://e1:2379', 'http://e2:2379'],
      etcdUsername: 'fleet',
      etcdPassword: 's3cr#t',
      etcdKeyFile: '/etc/fleet/key.pem',
      etcdCertFile: '/etc/fleet/cert.pem',
      etcdCaFile: '/etc/fleet/ca.pem',
      etcdKeyPrefix: '/custom/',
      etcdRequestTimeoutMs: 2_500,
      engineReconcileIntervalMs: 500,
      publicIP: '10.0.0.7',
      metadata: { region: 'us-west', disk: 'ssd' },
      agentTtlMs: 90_000,
      unitsDirectory: '/tmp/units/',
      systemdUser: true,
      tokenLimit: 32,
      enableGrpc: true,
      disableEngine: true,
      disableWatches: true,
      apiListen: '127.0.0.1:49153',
      apiTlsCertFile: '/etc/fleet/api.pem',
      apiTlsKeyFile: '/etc/fleet/api-key.pem',
      apiClientCaFile: '/etc/fleet/clients-ca.pem',
      apiInsecureTcp: true,
      apiAccessFile: '/etc/fleet/grants.json',
      peerCertFile: '/etc/fleet/peer.crt',
      peerKeyFile: '/etc/fleet/peer.key',
      peerCaFile: '/etc/fleet/ca.crt',
      peerAddress: '10.0.0.7:54729',
    });
  });

  it('lets FLEET_<NAME> override the file', () => {
    const path = writeConfig('public_ip = 10.0.0.1', 'agent_ttl = 10s', 'verbosity = 1');
    const { config } = load({ FLEET_PUBLIC_IP: '10.0.0.2', FLEET_AGENT_TTL: '3s' }, path);
    expect(config.publicIP).toBe('10.0.0.2');
    expect(config.agentTtlMs).toBe(3_000);
    expect(config.verbosity).toBe(1);
  });

  it('counts a set but empty variable as a value that overrides the file', () => {
    const path = writeConfig('public_ip = 10.0.0.1', 'metadata = a=b');
    const { config } = load({ FLEET_PUBLIC_IP: '', FLEET_METADATA: '' }, path);
    expect(config.publicIP).toBe('');
    expect(config.metadata).toEqual({});
  });

  it('ignores unset variables and variables of other names or case', () => {
    const path = writeConfig('public_ip = 10.0.0.1');
    const env = { FLEET_PUBLIC_IP: undefined, fleet_public_ip: '10.9.9.9', PUBLIC_IP: '10.8.8.8' };
    expect(load(env, path).config.publicIP).toBe('10.0.0.1');
  });

  it('reads our api_listen addition from FLEET_API_LISTEN', () => {
    expect(load({ FLEET_API_LISTEN: '/run/fleet-api.sock' }).config.apiListen).toBe(
      '/run/fleet-api.sock',
    );
  });

  it('does not check a file value that the environment overrides', () => {
    const path = writeConfig('verbosity = abc');
    expect(load({ FLEET_VERBOSITY: '3' }, path).config.verbosity).toBe(3);
  });
});

describe('config file choice', () => {
  it('announces a provided config file', () => {
    const path = writeConfig('verbosity = 1');
    const { file, notices } = load({}, path);
    expect(file).toBe(path);
    expect(notices).toEqual([{ level: 'info', msg: `Using provided config file ${path}` }]);
  });

  it('uses the default file when no path is given, and an empty path counts as none', () => {
    const defaultPath = writeConfig('verbosity = 4');
    for (const path of [undefined, '']) {
      const loaded = loadConfig({ path, env: {}, defaultPath });
      expect(loaded.file).toBe(defaultPath);
      expect(loaded.config.verbosity).toBe(4);
      expect(loaded.notices).toEqual([
        { level: 'info', msg: `Using default config file ${defaultPath}` },
      ]);
    }
  });

  it('prefers a provided path over the default file', () => {
    const defaultPath = writeConfig('verbosity = 4');
    const provided = join(dir, 'other.conf');
    writeFileSync(provided, 'verbosity = 5\n');
    expect(loadConfig({ path: provided, env: {}, defaultPath }).config.verbosity).toBe(5);
  });

  it('fails on a provided path that does not exist, giving the reason as Go did', () => {
    const path = join(dir, 'missing.conf');
    expect(loadError({}, path).message).toBe(
      `Unable to use config file ${path}: stat ${path}: no such file or directory`,
    );
  });

  it('fails on a provided path that is a directory', () => {
    expect(loadError({}, dir).message).toBe(`Provided config ${dir} is a directory, not a file`);
  });

  it('warns and proceeds without when the default path is a directory', () => {
    const defaultPath = join(dir, 'fleet.conf.d');
    mkdirSync(defaultPath);
    const { file, notices } = loadConfig({ env: {}, defaultPath });
    expect(file).toBeNull();
    expect(notices).toEqual([
      {
        level: 'warn',
        msg: `Default config file ${defaultPath} is a directory, not a file - proceeding without`,
      },
    ]);
  });

  it('fails on a syntax error, naming the file, line and text', () => {
    const path = writeConfig('verbosity = 1', 'not an option line');
    expect(loadError({}, path).message).toBe(
      `Unable to use config file ${path}: iniparser: syntax error at line 2: "not an option line"`,
    );
  });

  it('warns about keys in the file that are not options, and ignores them', () => {
    const path = writeConfig('etcd_server = http://typo:2379', 'verbosity = 1');
    const { config, notices } = load({}, path);
    expect(config.etcdServers).toEqual(DEFAULTS.etcdServers);
    expect(notices).toContainEqual({
      level: 'warn',
      msg: `Ignoring unknown config option etcd_server in ${path}`,
    });
  });
});

describe('etcd_servers', () => {
  it.each([
    ['["http://a:2379", "http://b:2379"]', ['http://a:2379', 'http://b:2379']],
    [' http://a:2379 , http://b:2379 ', ['http://a:2379', 'http://b:2379']],
    ['"http://a:2379"', ['http://a:2379']],
    ['http://a:2379', ['http://a:2379']],
  ])('trims spaces, [ and " on the left and spaces, " and ] on the right of %j', (raw, servers) => {
    expect(load({ FLEET_ETCD_SERVERS: raw }).config.etcdServers).toEqual(servers);
  });

  it('accepts the JSON-looking form in a file, unquoted or in single quotes', () => {
    for (const form of [
      `["http://a:2379", "http://b:2379"]`,
      `'["http://a:2379","http://b:2379"]'`,
    ]) {
      const path = writeConfig(`etcd_servers = ${form}`);
      expect(load({}, path).config.etcdServers).toEqual(['http://a:2379', 'http://b:2379']);
    }
  });

  it('rejects empty entries, which fleet kept and then failed to connect to', () => {
    expect(loadError({ FLEET_ETCD_SERVERS: 'http://a:2379,' }).message).toBe(
      'invalid value "http://a:2379," for etcd_servers (from FLEET_ETCD_SERVERS): ' +
        'expected a comma-separated list of etcd endpoints, none of them empty',
    );
    expect(() => load({ FLEET_ETCD_SERVERS: '' })).toThrow(ConfigError);
  });
});

describe('metadata', () => {
  it('splits k=v items at commas and the first =, trimming spaces around = and ,', () => {
    const raw = ' region = us-west , az=b ,k=v=w';
    expect(load({ FLEET_METADATA: raw }).config.metadata).toEqual({
      region: 'us-west',
      az: 'b',
      k: 'v=w',
    });
  });

  it('ignores items without = and lets the last duplicate win', () => {
    const raw = 'region=us-west,garbage,,region=eu,empty=';
    expect(load({ FLEET_METADATA: raw }).config.metadata).toEqual({ region: 'eu', empty: '' });
  });

  it('keeps a __proto__ key as plain data', () => {
    const { metadata } = load({ FLEET_METADATA: '__proto__=x' }).config;
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.entries(metadata)).toEqual([['__proto__', 'x']]);
  });
});

describe('typed values', () => {
  it('reads seconds as whole milliseconds, truncated as fleet truncated them', () => {
    const { config } = load({
      FLEET_ETCD_REQUEST_TIMEOUT: '0.0019',
      FLEET_ENGINE_RECONCILE_INTERVAL: '1.005',
    });
    expect(config.etcdRequestTimeoutMs).toBe(1);
    expect(config.engineReconcileIntervalMs).toBe(1_004);
  });

  it('accepts token_limit from 1 to 65535 only', () => {
    expect(load({ FLEET_TOKEN_LIMIT: '65535' }).config.tokenLimit).toBe(65_535);
    expect(load({ FLEET_TOKEN_LIMIT: '1' }).config.tokenLimit).toBe(1);
    for (const bad of ['0', '65536', '-1']) {
      expect(loadError({ FLEET_TOKEN_LIMIT: bad }).message).toBe(
        `invalid value "${bad}" for token_limit (from FLEET_TOKEN_LIMIT): ${TOKEN_LIMIT}`,
      );
    }
  });

  it('accepts an absolute socket path or host:port for api_listen', () => {
    for (const good of ['/run/fleet/api.sock', '127.0.0.1:49153', ':8080', '[::1]:0', 'h:65535']) {
      expect(load({ FLEET_API_LISTEN: good }).config.apiListen).toBe(good);
    }
    for (const bad of ['fleet.sock', 'host', 'host:65536', '::1:80', 'host:port']) {
      expect(() => load({ FLEET_API_LISTEN: bad })).toThrow(
        'expected an absolute unix socket path or host:port',
      );
    }
  });

  it('accepts host:port with a host to publish for peer_address', () => {
    for (const good of ['10.0.0.7:54729', 'm1.cluster:1', '[fd00::7]:54729']) {
      expect(load({ FLEET_PEER_ADDRESS: good }).config.peerAddress).toBe(good);
    }
    for (const bad of [':54729', '10.0.0.7', '10.0.0.7:0', '10.0.0.7:65536', '/run/peer.sock']) {
      expect(() => load({ FLEET_PEER_ADDRESS: bad })).toThrow(
        'expected host:port, such as 10.0.0.5:54729',
      );
    }
  });
});

describe('bad values', () => {
  it('names the option, its source, the value and what was expected', () => {
    expect(loadError({ FLEET_VERBOSITY: 'abc' }).message).toBe(
      'invalid value "abc" for verbosity (from FLEET_VERBOSITY): expected an integer',
    );
  });

  it('rejects an empty variable for an option that is not a string', () => {
    expect(loadError({ FLEET_DISABLE_ENGINE: '' }).message).toBe(
      `invalid value "" for disable_engine (from FLEET_DISABLE_ENGINE): ${BOOLEAN}`,
    );
  });

  it('collects every bad value, from file and environment, into one error', () => {
    const path = writeConfig(
      'verbosity = abc',
      'etcd_request_timeout = 0',
      'agent_ttl = 30',
      'systemd_user = yes',
    );
    const error = loadError(
      { FLEET_TOKEN_LIMIT: '70000', FLEET_ENGINE_RECONCILE_INTERVAL: 'fast', FLEET_AGENT_TTL: '0' },
      path,
    );
    const seconds = 'expected a number of seconds of at least 0.001, such as 1.5';
    expect(error.message.split('; ')).toEqual([
      `invalid value "abc" for verbosity (from ${path}): expected an integer`,
      `invalid value "0" for etcd_request_timeout (from ${path}): ${seconds}`,
      `invalid value "fast" for engine_reconcile_interval (from FLEET_ENGINE_RECONCILE_INTERVAL): ${seconds}`,
      'invalid value "0" for agent_ttl (from FLEET_AGENT_TTL): expected a positive duration',
      `invalid value "yes" for systemd_user (from ${path}): ${BOOLEAN}`,
      `invalid value "70000" for token_limit (from FLEET_TOKEN_LIMIT): ${TOKEN_LIMIT}`,
    ]);
  });

  it("quotes Go's own error for a bad agent_ttl", () => {
    expect(loadError({ FLEET_AGENT_TTL: '30' }).message).toBe(
      'invalid value "30" for agent_ttl (from FLEET_AGENT_TTL): ' +
        'expected a Go duration such as "30s" or "1m30s" (time: missing unit in duration "30")',
    );
    expect(loadError({ FLEET_AGENT_TTL: '-5s' }).message).toContain('expected a positive duration');
  });
});

describe('deprecated options', () => {
  it('reports verify_units=true with the exact ERROR text of fleet', () => {
    const path = writeConfig('verify_units = true');
    expect(load({}, path).notices).toContainEqual({
      level: 'error',
      msg: 'Config option verify_units is no longer supported - ignoring',
    });
  });

  it('reports a non-empty authorized_keys_file with the exact ERROR text of fleet', () => {
    const { notices } = load({ FLEET_AUTHORIZED_KEYS_FILE: '/home/core/.ssh/authorized_keys' });
    expect(notices).toContainEqual({
      level: 'error',
      msg: 'Config option authorized_keys_file is no longer supported - ignoring',
    });
  });

  it('says nothing when they are false or empty', () => {
    const path = writeConfig('verify_units = false', 'authorized_keys_file =');
    expect(load({}, path).notices.filter((n) => n.level === 'error')).toEqual([]);
  });

  it('still rejects a verify_units value that is not a boolean', () => {
    expect(() => load({ FLEET_VERIFY_UNITS: 'maybe' })).toThrow('for verify_units');
  });
});
