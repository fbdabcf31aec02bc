import { describe, expect, it } from 'vitest';
import { matchesUnitGlob } from '../../../src/api/access/unit-glob.js';

describe('unit-name globs of a limited operate grant', () => {
  it.each([
    ['web-*', 'web-1.service', true],
    ['web-*', 'web-@.service', true],
    ['web-*', 'db.service', false],
    ['web-*', 'aweb-1.service', false],
    ['*.timer', 'backup.timer', true],
    ['*.timer', 'backup.service', false],
    ['web-?.service', 'web-1.service', true],
    ['web-?.service', 'web-12.service', false],
    ['db.service', 'db.service', true],
    ['db.service', 'dbxservice', false],
    ['web-*', '', false],
    ['*', 'anything@x.service', true],
  ])('%s against %s: %s', (glob, name, expected) => {
    expect(matchesUnitGlob(glob, name)).toBe(expected);
  });
});
