import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnitFilesDirectory } from '../../src/systemd/unit-files-directory.js';
import { UnitFile } from '../../src/unit/unit-file.js';

describe('UnitFilesDirectory', () => {
  let root: string;
  let warnings: string[];
  let dir: UnitFilesDirectory;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'fleet-units-'));
    warnings = [];
    const log = pino(
      { level: 'warn' },
      { write: (line: string) => warnings.push(JSON.parse(line).msg as string) },
    );
    dir = new UnitFilesDirectory(join(root, 'run/fleet/units'), log);
    await dir.create();
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const modeOf = (file: string) => statSync(file).mode & 0o777;

  it('creates the directory 0755 and writes files 0640, unreadable by others', async () => {
    expect(modeOf(dir.path)).toBe(0o755);
    expect(await dir.write('a.service', 'é\n')).toBe(3);
    expect(modeOf(dir.fileOf('a.service'))).toBe(0o640);
  });

  it('makes a file 0640 when it overwrites one that was readable by others', async () => {
    writeFileSync(dir.fileOf('a.service'), 'old', { mode: 0o644 });
    chmodSync(dir.fileOf('a.service'), 0o666);
    await dir.write('a.service', 'new');
    expect(modeOf(dir.fileOf('a.service'))).toBe(0o640);
  });

  it('takes the bits beyond 0640 from files already there at start, keeping stricter modes', async () => {
    for (const [name, mode] of [
      ['wide.service', 0o666],
      ['old.service', 0o644],
      ['strict.service', 0o600],
    ] as const) {
      writeFileSync(dir.fileOf(name), '');
      chmodSync(dir.fileOf(name), mode);
    }
    await new UnitFilesDirectory(dir.path, pino({ level: 'silent' })).create();
    expect(modeOf(dir.fileOf('wide.service'))).toBe(0o640);
    expect(modeOf(dir.fileOf('old.service'))).toBe(0o640);
    expect(modeOf(dir.fileOf('strict.service'))).toBe(0o600);
  });

  it('lists recognised unit files with the SHA-1 the unit model gives their text', async () => {
    const unit = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1\n');
    await dir.write('a.service', unit.serialized);
    await dir.write('b.timer', '');
    expect(await dir.list()).toEqual(
      new Map([
        ['a.service', unit.hash],
        ['b.timer', UnitFile.parse('').hash],
      ]),
    );
  });

  it('lists unit files of every type the API accepts, not only those fleetctl recognises', async () => {
    const types = ['target', 'slice', 'swap', 'scope', 'busname', 'snapshot'];
    for (const type of types) await dir.write(`web.${type}`, '');
    expect([...(await dir.list()).keys()].sort()).toEqual(types.map((t) => `web.${t}`).sort());
    expect(warnings).toEqual([]);
  });

  it('ignores other files with a warning', async () => {
    writeFileSync(join(dir.path, 'notes.txt'), 'x');
    writeFileSync(join(dir.path, 'web.conf'), 'x');
    expect(await dir.list()).toEqual(new Map());
    expect(warnings.sort()).toEqual([
      `Found unrecognized file in ${join(dir.path, 'notes.txt')}, ignoring`,
      `Found unrecognized file in ${join(dir.path, 'web.conf')}, ignoring`,
    ]);
  });

  it('removes a file, and a file already gone quietly', async () => {
    await dir.write('a.service', '');
    await dir.remove('a.service');
    await dir.remove('a.service');
    expect(await dir.list()).toEqual(new Map());
  });
});
