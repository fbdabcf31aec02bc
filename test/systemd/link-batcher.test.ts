import { describe, expect, it } from 'vitest';
import { LinkBatcher } from '../../src/systemd/link-batcher.js';
import type { UnitFileChange } from '../../src/systemd/systemd-api.js';

/** systemd's answer to LinkUnitFiles: one symlink per file, refusing the whole call on `bad`. */
function fakeLinkUnitFiles(calls: string[][]) {
  return async (files: string[]): Promise<UnitFileChange[]> => {
    calls.push(files);
    await new Promise((r) => setTimeout(r, 5));
    if (files.some((file) => file.includes('bad'))) throw new Error('Invalid argument');
    return files.map((file) => ({
      type: 'symlink',
      file: `/run/systemd/system/${file.slice(file.lastIndexOf('/') + 1)}`,
      destination: file,
    }));
  };
}

describe('LinkBatcher', () => {
  it('links the files asked for together in one call, and later ones in the next', async () => {
    const calls: string[][] = [];
    const batcher = new LinkBatcher(fakeLinkUnitFiles(calls));
    const first = ['a', 'b', 'c'].map((n) => batcher.link(`/run/fleet/units/${n}.service`));
    await new Promise((r) => setImmediate(r));
    const later = ['d', 'e'].map((n) => batcher.link(`/run/fleet/units/${n}.service`));
    const changes = await Promise.all([...first, ...later]);
    expect(calls).toEqual([
      ['/run/fleet/units/a.service', '/run/fleet/units/b.service', '/run/fleet/units/c.service'],
      ['/run/fleet/units/d.service', '/run/fleet/units/e.service'],
    ]);
    expect(changes[1]).toEqual([
      {
        type: 'symlink',
        file: '/run/systemd/system/b.service',
        destination: '/run/fleet/units/b.service',
      },
    ]);
  });

  it('links a refused batch file by file, so only the failing unit sees the error', async () => {
    const calls: string[][] = [];
    const batcher = new LinkBatcher(fakeLinkUnitFiles(calls));
    const results = await Promise.allSettled(
      ['a', 'bad', 'c'].map((n) => batcher.link(`/run/fleet/units/${n}.service`)),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('Invalid argument'));
    expect(calls).toHaveLength(4);
  });
});
