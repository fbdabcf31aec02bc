import { describe, expect, it } from 'vitest';
import { Catalogue, globMatch, rackOf } from '../../soak/units.js';
import { UnitFile } from '../../src/unit/unit-file.js';

describe('the soak catalogue', () => {
  it('states each unit rule in its [X-Fleet] section', () => {
    const c = new Catalogue(3);
    const fleet = (name: string) =>
      UnitFile.parse(c.text(name, 1))
        .options.filter((o) => o.section === 'X-Fleet')
        .map((o) => `${o.name}=${o.value}`);
    expect(fleet('soak-plain-0.service')).toEqual([]);
    expect(fleet('soak-pair-0-b.service')).toEqual(['MachineOf=soak-pair-0-a.service']);
    expect(fleet('soak-conf-0.service')).toEqual(['Conflicts=soak-conf-*']);
    expect(fleet('soak-global-rack-a.service')).toEqual(['Global=true', 'MachineMetadata=rack=a']);
    expect(fleet('soak-plain-rack-b.service')).toEqual(['MachineMetadata=rack=b']);
  });

  it('gives each version different content, hence a different hash', () => {
    const c = new Catalogue(3);
    expect(c.hash('soak-plain-0.service', 1)).not.toBe(c.hash('soak-plain-0.service', 2));
    expect(c.hash('soak-tpl@1.service', 4)).toBe(c.hash('soak-tpl@2.service', 4));
  });

  it('sizes the Conflicts group one below the machines, so it fits with one machine down', () => {
    for (const machines of [3, 4, 5]) {
      const conf = new Catalogue(machines).names.filter((n) => n.startsWith('soak-conf-'));
      expect(conf).toHaveLength(machines - 1);
    }
  });

  it('names the MachineOf followers of a unit', () => {
    const c = new Catalogue(3);
    expect(c.followersOf('soak-pair-1-a.service')).toEqual(['soak-pair-1-b.service']);
    expect(c.followersOf('soak-plain-0.service')).toEqual([]);
  });

  it('alternates racks and matches globs as Conflicts does', () => {
    expect([1, 2, 3, 4].map(rackOf)).toEqual(['a', 'b', 'a', 'b']);
    expect(globMatch('soak-conf-*', 'soak-conf-1.service')).toBe(true);
    expect(globMatch('soak-conf-*', 'soak-plain-1.service')).toBe(false);
    expect(globMatch('a.?', 'a.b')).toBe(true);
  });
});
