import type { OptionName } from './schema.js';

/**
 * One line on each option, for the commented fleet.conf the packages ship. A `Record` over
 * every option name, so an option added to the schema without a description fails typecheck.
 */
export const OPTION_DESCRIPTIONS: Readonly<Record<OptionName, string>> = {
  verbosity: 'Above 0 turns on DEBUG logging (there is a single debug level).',
  etcd_servers: 'etcd endpoints, comma-separated; every machine of a cluster lists the same.',
  etcd_username: 'etcd user for authentication.',
  etcd_password: 'Password of etcd_username.',
  etcd_keyfile: 'TLS client key for etcd (used only with https:// endpoints).',
  etcd_certfile: 'TLS client certificate for etcd (used only with https:// endpoints).',
  etcd_cafile: "CA certificate that signs the etcd servers' certificates.",
  etcd_key_prefix: "Root of fleet's keys in etcd; fleetds sharing a prefix form one cluster.",
  etcd_request_timeout: 'Seconds allowed for one etcd request.',
  engine_reconcile_interval:
    'Seconds between engine reconciliations; the leader lease lasts five times as long.',
  public_ip:
    "Address this machine publishes; empty: the first IPv4 address of the default route's interface.",
  metadata:
    'This machine\'s metadata as key=value pairs, comma-separated (e.g. "region=us-west,disk=ssd").',
  agent_ttl:
    'Go duration a silent machine keeps its units before they move elsewhere; most timings follow it.',
  units_directory: 'Where fleetd writes the unit files it hands to systemd.',
  systemd_user: "Drive the user's systemd instance over the session bus instead of the system one.",
  token_limit: 'Most entries the API returns per page (1 to 65535).',
  enable_grpc: "fleet's experimental gRPC transport between engine and agents.",
  disable_engine: 'Never run the engine on this machine.',
  disable_watches: 'No etcd watches: react only on periodic ticks (slower scheduling).',
  verify_units: 'Deprecated and ignored.',
  authorized_keys_file: 'Deprecated and ignored.',
  api_listen: 'Unix socket path or host:port to serve the API on when systemd passes no sockets.',
  api_tls_cert_file: 'PEM certificate a TCP API listener serves TLS with.',
  api_tls_key_file: 'PEM private key of api_tls_cert_file.',
  api_client_ca_file: 'PEM CA that client certificates on a TLS listener must chain to.',
  api_insecure_tcp: 'Let a TCP API listener serve plain HTTP without authentication, as fleet did.',
  api_access_file:
    'JSON file granting roles to tokens and certificate subjects; re-read on SIGHUP.',
  peer_cert_file:
    'PEM certificate this fleetd presents to other fleetds and serves its peer listener with.',
  peer_key_file: 'PEM private key of peer_cert_file.',
  peer_ca_file: "PEM CA that signs every fleetd's peer certificate.",
  peer_address:
    "host:port of the peer listener that serves units' status and journal to other fleetds; empty: none.",
};
