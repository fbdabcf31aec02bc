import { describe, expect, it } from 'vitest';
import { type FleetConfig, loadConfig } from '../../src/config/index.js';
import { restartOnlyChanges } from '../../src/server/reload.js';

function configWith(env: Record<string, string>): FleetConfig {
  return loadConfig({ env, defaultPath: '/nonexistent/fleet.conf' }).config;
}

describe('SIGHUP reload: options only a restart applies', () => {
  const running = configWith({});

  it('names every restart-only option whose value changed, by its fleet.conf name', () => {
    const reloaded = configWith({
      FLEET_API_LISTEN: '127.0.0.1:54728',
      FLEET_UNITS_DIRECTORY: '/run/fleet/elsewhere',
      FLEET_SYSTEMD_USER: 'true',
    });
    expect(restartOnlyChanges(running, reloaded)).toEqual([
      'api_listen',
      'units_directory',
      'systemd_user',
    ]);
  });

  it('names none when only options a reload applies changed', () => {
    const reloaded = configWith({ FLEET_VERBOSITY: '1', FLEET_METADATA: 'region=east' });
    expect(restartOnlyChanges(running, reloaded)).toEqual([]);
  });
});
