/** fleet's `etcd_key_prefix` default: where fleetd, fleetctl's etcd driver and the tools look. */
export const DEFAULT_KEY_PREFIX = '/_coreos.com/fleet/';
