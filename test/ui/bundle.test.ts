import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LIMIT_BYTES = 150 * 1024;

/** Names preact gives elements' namespaces: identifiers that no browser fetches. */
const XML_NAMESPACES = [
  'http://www.w3.org/2000/svg',
  'http://www.w3.org/1998/Math/MathML',
  'http://www.w3.org/1999/xhtml',
];

describe('the dashboard bundle that npm run build makes', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'fleet-ui-bundle-'));
    execFileSync(process.execPath, ['scripts/build-ui.mjs', out]);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is a page, its script and its style sheet', () => {
    expect(readdirSync(out).sort()).toEqual(['app.js', 'index.html', 'style.css']);
  });

  it('weighs at most 150 KB gzipped', () => {
    const gzipped = readdirSync(out).reduce(
      (sum, file) => sum + gzipSync(readFileSync(join(out, file))).length,
      0,
    );
    expect(gzipped).toBeLessThanOrEqual(LIMIT_BYTES);
  });

  it('refers to nothing outside the cluster', () => {
    for (const file of readdirSync(out)) {
      const text = readFileSync(join(out, file), 'utf8');
      const addresses = (text.match(/(?:https?:)?\/\/[a-z0-9-]+\.[a-z][^\s"'`)]*/gi) ?? []).filter(
        (address) => !XML_NAMESPACES.includes(address),
      );
      expect([file, addresses]).toEqual([file, []]);
    }
  });
});
