import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { parseIni } from '../../src/config/ini.js';
import { renderSampleConf } from '../../src/config/sample-conf.js';
import { OPTION_NAMES } from '../../src/config/schema.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-sample-conf-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function load(text: string) {
  const path = join(dir, 'fleet.conf');
  writeFileSync(path, text);
  return loadConfig({ path, env: {}, defaultPath: join(dir, 'none') });
}

/** The sample with every `#option = value` line made active. */
function uncommented(text: string): string {
  return text.replace(/^#([a-z_]+ =)/gm, '$1');
}

describe('the packaged fleet.conf', () => {
  const sample = renderSampleConf();

  it('lists every option of the schema once, commented out, each after a line on what it does', () => {
    const listed = [...sample.matchAll(/^# (.+)\n#([a-z_]+) =/gm)].map((m) => m[2]);
    expect(listed).toEqual(OPTION_NAMES);
    expect(OPTION_NAMES).toContain('peer_address');
    expect(OPTION_NAMES).toContain('api_access_file');
  });

  it('sets nothing as shipped: fleetd reads it as no option at all', () => {
    expect(parseIni(sample).size).toBe(0);
    expect(load(sample).config).toEqual(load('').config);
  });

  it('gives each default: uncommented, every option is set to what fleetd uses without it', () => {
    const active = uncommented(sample);
    expect([...parseIni(active).keys()]).toEqual(OPTION_NAMES);
    const loaded = load(active);
    expect(loaded.config).toEqual(load('').config);
    expect(loaded.notices.filter((n) => n.level !== 'info')).toEqual([]);
  });
});
