import { describe, expect, it } from 'vitest';
import { currentStateOf } from '../../src/registry/model.js';

const HASH = 'a'.repeat(40);
const OLD = 'b'.repeat(40);

describe('current state of a unit', () => {
  it('is inactive while the unit is not scheduled, or its target reports nothing', () => {
    expect(currentStateOf(HASH, null, { hash: HASH, launched: true })).toBe('inactive');
    expect(currentStateOf(HASH, 'm1', undefined)).toBe('inactive');
  });

  it('is launched once the target agent started this content, loaded before', () => {
    expect(currentStateOf(HASH, 'm1', { hash: HASH, launched: true })).toBe('launched');
    expect(currentStateOf(HASH, 'm1', { hash: HASH, launched: false })).toBe('loaded');
  });

  it('ignores a state the target still reports for the content a replace superseded', () => {
    expect(currentStateOf(HASH, 'm1', { hash: OLD, launched: true })).toBe('inactive');
  });
});
