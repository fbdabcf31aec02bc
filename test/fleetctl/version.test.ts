import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareVersions, latestVersion } from '../../src/fleetctl/client/version-check.js';
import { FLEET_VERSION } from '../../src/version.js';

describe('versions', () => {
  it('FLEET_VERSION is the package version', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(FLEET_VERSION).toBe(pkg.version);
  });

  it('orders versions as semver does, pre-releases before releases, metadata ignored', () => {
    expect(compareVersions('1.0.0', '1.0.1')).toBeLessThan(0);
    expect(compareVersions('1.10.0', '1.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).toBeLessThan(0);
    expect(compareVersions('1.0.0-alpha', '1.0.0-alpha.1')).toBeLessThan(0);
    expect(compareVersions('1.0.0-2', '1.0.0-10')).toBeLessThan(0);
    expect(compareVersions('1.0.0-beta', '1.0.0-alpha')).toBeGreaterThan(0);
    expect(compareVersions('0.0.0+wasnotbuiltproperly', '0.0.0')).toBe(0);
  });

  it('picks the newest parsable version as fleet LatestDaemonVersion does', () => {
    expect(latestVersion(['1.0.0', 'v2', '0.9.0', '1.2.0-rc.1'])).toBe('1.2.0-rc.1');
    expect(latestVersion(['nonsense'])).toBeNull();
  });
});
