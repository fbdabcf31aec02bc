import { describe, expect, it } from 'vitest';
import {
  isGlobalUnit,
  jobRequirements,
  unrecognizedRequirements,
} from '../../src/job/requirements.js';
import { UnitFile } from '../../src/unit/unit-file.js';

const unit = (xfleet: string) => UnitFile.parse(`[X-Fleet]\n${xfleet}\n`);

describe('[X-Fleet] requirements', () => {
  it('resolves %n %N %p %i against the unit name the requirements are read for', () => {
    const template = unit(
      'MachineMetadata=hostname=%i\nConflicts=%p@*.service\nMachineOf=%N.peer.service',
    );
    const requirements = jobRequirements('web@a1.service', template);
    expect(requirements.metadata).toEqual(new Map([['hostname', new Set(['a1'])]]));
    expect(requirements.conflicts).toEqual(['web@*.service']);
    expect(requirements.peers).toEqual(['web@a1.peer.service']);
  });

  it('takes the first MachineID of the first present spelling', () => {
    const requirements = jobRequirements(
      'a.service',
      unit(
        'X-ConditionMachineBootID=boot\nX-ConditionMachineID=old\nMachineID=new\nMachineID=newer',
      ),
    );
    expect(requirements.machineID).toBe('new');
    expect(jobRequirements('a.service', unit('X-ConditionMachineBootID=boot')).machineID).toBe(
      'boot',
    );
  });

  it('keeps an empty MachineID as a present requirement', () => {
    expect(jobRequirements('a.service', unit('MachineID=')).machineID).toBe('');
    expect(jobRequirements('a.service', unit('Global=true')).machineID).toBeNull();
  });

  it('groups metadata values per key and ignores malformed pairs', () => {
    const requirements = jobRequirements(
      'a.service',
      unit(
        'MachineMetadata=region=us\nMachineMetadata="region=eu" "az=1"\nMachineMetadata=a=b=c\nMachineMetadata==x',
      ),
    );
    expect(requirements.metadata).toEqual(
      new Map([
        ['region', new Set(['us', 'eu'])],
        ['az', new Set(['1'])],
      ]),
    );
  });

  it('decides Global by the last value, case-insensitively', () => {
    expect(isGlobalUnit(unit('Global=false\nGlobal=On'))).toBe(true);
    expect(isGlobalUnit(unit('Global=true\nGlobal=nope'))).toBe(false);
  });

  it('lists unknown keys sorted, deprecated spellings being known', () => {
    expect(
      unrecognizedRequirements(unit('Zed=1\nX-ConditionMachineOf=a.service\nAlpha=2')),
    ).toEqual(['Alpha', 'Zed']);
  });
});
