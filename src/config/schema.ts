/**
 * Every fleetd option, its default and how its text becomes a value. Each option is read from
 * one string (file line or environment variable) as fleet read it through Go's `flag`
 * package; defaults are written as that same text so they go through the same parsing.
 */

import { z } from 'zod';
import { errorMessage } from '../error-message.js';
import { parseGoDuration } from '../go/duration.js';
import { parseGoBool, parseGoFloat, parseGoInt } from '../go/strconv.js';
import { DEFAULT_KEY_PREFIX } from './defaults.js';
import { parseMetadata, splitStringSlice } from './lists.js';

export interface FleetConfig {
  /** Above 0 turns on DEBUG logging (fleet has a single debug level). */
  verbosity: number;
  etcdServers: string[];
  etcdUsername: string;
  etcdPassword: string;
  etcdKeyFile: string;
  etcdCertFile: string;
  etcdCaFile: string;
  etcdKeyPrefix: string;
  /** Whole milliseconds, truncated from the configured seconds as fleet truncated them. */
  etcdRequestTimeoutMs: number;
  /** Whole milliseconds, truncated from the configured seconds as fleet truncated them. */
  engineReconcileIntervalMs: number;
  /** Empty means detect the address of the default route's interface. */
  publicIP: string;
  metadata: Record<string, string>;
  agentTtlMs: number;
  unitsDirectory: string;
  systemdUser: boolean;
  /** API page size, 1 to 65535. */
  tokenLimit: number;
  enableGrpc: boolean;
  disableEngine: boolean;
  disableWatches: boolean;
  /** Ours: a unix socket path or host:port to serve the API on when systemd passes no sockets. */
  apiListen: string;
  /** Ours: the TLS certificate and key a TCP API listener serves with (PEM files). */
  apiTlsCertFile: string;
  apiTlsKeyFile: string;
  /** Ours: the CA that client certificates on a TLS listener must chain to; empty: none asked. */
  apiClientCaFile: string;
  /** Ours: lets a TCP API listener serve plain HTTP, with no authentication, as fleet did. */
  apiInsecureTcp: boolean;
  /** Ours: the JSON file that grants roles to tokens and certificate subjects. */
  apiAccessFile: string;
  /** Ours: this machine's peer certificate and key, and the CA of every fleetd's (PEM files). */
  peerCertFile: string;
  peerKeyFile: string;
  peerCaFile: string;
  /** Ours: `host:port` of the peer listener, published to other fleetds; empty: none. */
  peerAddress: string;
}

/** A zod schema that turns option text into a value, or reports what was expected instead. */
function fromText<T>(parse: (raw: string) => T | undefined, expected: string) {
  return z.string().transform((raw, ctx) => {
    const value = parse(raw);
    if (value === undefined) {
      ctx.addIssue(expected);
      return z.NEVER;
    }
    return value;
  });
}

const text = z.string();

const integer = fromText(parseGoInt, 'expected an integer');

const boolean = fromText(
  parseGoBool,
  'expected a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)',
);

// fleet multiplied by 1000 in float64 and truncated to whole milliseconds, so `1.005` becomes
// 1004 ms there too; zero or less would stall its tickers, so we refuse it.
const positiveSecondsAsMs = fromText((raw) => {
  const seconds = parseGoFloat(raw);
  if (seconds === undefined) return undefined;
  const ms = Math.trunc(seconds * 1000);
  return ms >= 1 ? ms : undefined;
}, 'expected a number of seconds of at least 0.001, such as 1.5');

const tokenLimit = fromText((raw) => {
  const limit = parseGoInt(raw);
  // The original truncated to uint16, so 65536 silently became 0; we refuse instead.
  return limit !== undefined && limit >= 1 && limit <= 0xffff ? limit : undefined;
}, 'expected an integer from 1 to 65535');

const etcdServers = fromText((raw) => {
  const servers = splitStringSlice(raw);
  return servers.includes('') ? undefined : servers;
}, 'expected a comma-separated list of etcd endpoints, none of them empty');

const agentTtlMs = z.string().transform((raw, ctx) => {
  let ms: number;
  try {
    ms = parseGoDuration(raw);
  } catch (error) {
    ctx.addIssue(`expected a Go duration such as "30s" or "1m30s" (${errorMessage(error)})`);
    return z.NEVER;
  }
  if (ms <= 0) {
    ctx.addIssue('expected a positive duration');
    return z.NEVER;
  }
  return ms;
});

const LISTEN_ADDRESS = /^(?:\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/;

const apiListen = fromText((raw) => {
  if (raw === '' || raw.startsWith('/')) return raw;
  const port = LISTEN_ADDRESS.exec(raw)?.[1];
  return port !== undefined && Number(port) <= 0xffff ? raw : undefined;
}, 'expected an absolute unix socket path or host:port');

// Published for other fleetds to dial, so it needs a host, not just a port.
const peerAddress = fromText((raw) => {
  if (raw === '') return raw;
  const match = LISTEN_ADDRESS.exec(raw);
  const port = match?.[1];
  if (port === undefined || Number(port) < 1 || Number(port) > 0xffff) return undefined;
  return raw.startsWith(':') || raw.startsWith('[]') ? undefined : raw;
}, 'expected host:port, such as 10.0.0.5:54729');

/** Options keyed by their fleet.conf name; `FLEET_<NAME>` in upper case is the variable. */
export const optionsSchema = z.object({
  verbosity: integer.prefault('0'),
  etcd_servers: etcdServers.prefault('http://127.0.0.1:2379,http://127.0.0.1:4001'),
  etcd_username: text.prefault(''),
  etcd_password: text.prefault(''),
  etcd_keyfile: text.prefault(''),
  etcd_certfile: text.prefault(''),
  etcd_cafile: text.prefault(''),
  etcd_key_prefix: text.prefault(DEFAULT_KEY_PREFIX),
  etcd_request_timeout: positiveSecondsAsMs.prefault('1.0'),
  engine_reconcile_interval: positiveSecondsAsMs.prefault('2.0'),
  public_ip: text.prefault(''),
  metadata: text.transform(parseMetadata).prefault(''),
  agent_ttl: agentTtlMs.prefault('30s'),
  units_directory: text.prefault('/run/fleet/units/'),
  systemd_user: boolean.prefault('false'),
  token_limit: tokenLimit.prefault('100'),
  enable_grpc: boolean.prefault('false'),
  disable_engine: boolean.prefault('false'),
  disable_watches: boolean.prefault('false'),
  verify_units: boolean.prefault('false'),
  authorized_keys_file: text.prefault(''),
  api_listen: apiListen.prefault(''),
  api_tls_cert_file: text.prefault(''),
  api_tls_key_file: text.prefault(''),
  api_client_ca_file: text.prefault(''),
  api_insecure_tcp: boolean.prefault('false'),
  api_access_file: text.prefault('/etc/fleet/access.json'),
  peer_cert_file: text.prefault(''),
  peer_key_file: text.prefault(''),
  peer_ca_file: text.prefault(''),
  peer_address: peerAddress.prefault(''),
});

export type OptionName = keyof typeof optionsSchema.shape;
export type ParsedOptions = z.output<typeof optionsSchema>;

export const OPTION_NAMES = Object.keys(optionsSchema.shape) as OptionName[];

export function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(optionsSchema.shape, name);
}

export function toFleetConfig(options: ParsedOptions): FleetConfig {
  return {
    verbosity: options.verbosity,
    etcdServers: options.etcd_servers,
    etcdUsername: options.etcd_username,
    etcdPassword: options.etcd_password,
    etcdKeyFile: options.etcd_keyfile,
    etcdCertFile: options.etcd_certfile,
    etcdCaFile: options.etcd_cafile,
    etcdKeyPrefix: options.etcd_key_prefix,
    etcdRequestTimeoutMs: options.etcd_request_timeout,
    engineReconcileIntervalMs: options.engine_reconcile_interval,
    publicIP: options.public_ip,
    metadata: options.metadata,
    agentTtlMs: options.agent_ttl,
    unitsDirectory: options.units_directory,
    systemdUser: options.systemd_user,
    tokenLimit: options.token_limit,
    enableGrpc: options.enable_grpc,
    disableEngine: options.disable_engine,
    disableWatches: options.disable_watches,
    apiListen: options.api_listen,
    apiTlsCertFile: options.api_tls_cert_file,
    apiTlsKeyFile: options.api_tls_key_file,
    apiClientCaFile: options.api_client_ca_file,
    apiInsecureTcp: options.api_insecure_tcp,
    apiAccessFile: options.api_access_file,
    peerCertFile: options.peer_cert_file,
    peerKeyFile: options.peer_key_file,
    peerCaFile: options.peer_ca_file,
    peerAddress: options.peer_address,
  };
}
