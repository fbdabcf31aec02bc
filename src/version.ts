/** This build's version, as `fleetctl version` and `fleetd` report it (package.json's). */
export const FLEET_VERSION = '1.0.0';
