import { describe, expect, it } from 'vitest';
import { EventStreamPosition } from '../../src/client/event-position.js';

const line = (revision: string, name: string) =>
  `{"revision":"${revision}","type":"unit","name":"${name}","object":null}`;

describe('EventStreamPosition', () => {
  it('resumes after the revision it gave, until it has seen one whole', () => {
    expect(new EventStreamPosition(null).since).toBeNull();
    const position = new EventStreamPosition('7');
    expect(position.accept(line('9', 'a'))).toBe(true);
    expect(position.since).toBe('7');
    expect(position.accept(line('10', 'a'))).toBe(true);
    expect(position.since).toBe('9');
  });

  it('skips the lines of a revision cut short when they come again, and hands on the rest', () => {
    const position = new EventStreamPosition(null);
    position.accept('{"type":"reset","revision":"5"}');
    position.accept(line('5', 'a'));
    position.accept(line('8', 'a'));
    expect(position.since).toBe('5');
    // Resumed after 5: revision 8 comes again, whole.
    expect(position.accept(line('8', 'a'))).toBe(false);
    expect(position.accept(line('8', 'b'))).toBe(true);
    expect(position.accept(line('9', 'a'))).toBe(true);
    expect(position.since).toBe('8');
  });

  it('continues a snapshot cut short when the new one is at the same revision', () => {
    const position = new EventStreamPosition(null);
    expect(position.accept('{"type":"reset","revision":"5"}')).toBe(true);
    expect(position.accept(line('5', 'a'))).toBe(true);
    expect(position.since).toBeNull();
    expect(position.accept('{"type":"reset","revision":"5"}')).toBe(false);
    expect(position.accept(line('5', 'a'))).toBe(false);
    expect(position.accept(line('5', 'b'))).toBe(true);
  });

  it('hands on a line it cannot read without counting it', () => {
    const position = new EventStreamPosition('3');
    expect(position.accept('not json')).toBe(true);
    expect(position.accept('not json')).toBe(true);
    expect(position.since).toBe('3');
  });
});
