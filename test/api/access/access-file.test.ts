import { describe, expect, it } from 'vitest';
import { AccessFileError, parseAccessFile } from '../../../src/api/access/access-file.js';

const HASH = 'ab'.repeat(32);
const PATH = '/etc/fleet/access.json';

describe('the access file', () => {
  it('reads tokens and certificate subjects with their grants', () => {
    const text = JSON.stringify({
      tokens: [
        { name: 'deploy', sha256: HASH.toUpperCase(), role: 'operate', units: ['web-*'] },
        { name: 'viewer', sha256: 'cd'.repeat(32), role: 'read' },
      ],
      certificates: [{ subject: { CN: 'alice', O: 'ops' }, role: 'admin' }],
    });
    expect(parseAccessFile(text, PATH)).toEqual({
      tokens: [
        { name: 'deploy', sha256: HASH, grant: { role: 'operate', units: ['web-*'] } },
        { name: 'viewer', sha256: 'cd'.repeat(32), grant: { role: 'read', units: null } },
      ],
      certificates: [{ subject: { CN: 'alice', O: 'ops' }, grant: { role: 'admin', units: null } }],
    });
  });

  it('takes a missing list as empty', () => {
    expect(parseAccessFile('{}', PATH)).toEqual({ tokens: [], certificates: [] });
  });

  it.each([
    ['not json', `access file ${PATH}: not JSON: `],
    ['[]', `access file ${PATH}: Invalid input: expected object, received array`],
    [
      JSON.stringify({ tokens: [{ name: 'a', sha256: 'abc', role: 'read' }] }),
      `access file ${PATH}: tokens[0].sha256: expected the SHA-256 of the token as 64 hex digits`,
    ],
    [
      JSON.stringify({ tokens: [{ name: 'a', sha256: HASH, role: 'root' }] }),
      `access file ${PATH}: tokens[0].role: expected one of read, operate, admin`,
    ],
    [
      JSON.stringify({ tokens: [{ name: 'a', sha256: HASH, role: 'read', units: ['web-*'] }] }),
      `access file ${PATH}: tokens[0].units: "units" limits an operate grant only`,
    ],
    [
      JSON.stringify({ tokens: [{ name: 'a', sha256: HASH, role: 'operate', units: [] }] }),
      `access file ${PATH}: tokens[0].units: expected at least one glob`,
    ],
    [
      JSON.stringify({ tokens: [{ name: 'a', sha256: HASH, role: 'read', token: 'x' }] }),
      `access file ${PATH}: tokens[0]: `,
    ],
    [
      JSON.stringify({
        tokens: [
          { name: 'a', sha256: HASH, role: 'read' },
          { name: 'a', sha256: 'cd'.repeat(32), role: 'read' },
        ],
      }),
      `access file ${PATH}: tokens[1].name: same name as tokens[0]`,
    ],
    [
      JSON.stringify({ certificates: [{ subject: {}, role: 'read' }] }),
      `access file ${PATH}: certificates[0].subject: expected at least one attribute`,
    ],
    [
      JSON.stringify({ certificates: [{ subject: { CN: '' }, role: 'read' }] }),
      `access file ${PATH}: certificates[0].subject.CN: `,
    ],
    [JSON.stringify({ users: [] }), `access file ${PATH}: `],
  ])('refuses %s, naming the file and the field', (text, message) => {
    expect(() => parseAccessFile(text, PATH)).toThrow(AccessFileError);
    expect(() => parseAccessFile(text, PATH)).toThrow(message);
  });
});
