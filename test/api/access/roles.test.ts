import { describe, expect, it } from 'vitest';
import {
  type Grant,
  grantsAllow,
  type RequestedAction,
  refusalReason,
  requestedAction,
} from '../../../src/api/access/roles.js';

describe('what a request asks to do', () => {
  it.each([
    ['GET', '/fleet/v1/units', { kind: 'read' }],
    ['HEAD', '/metrics', { kind: 'read' }],
    ['GET', '/fleet/v1/units/db.service', { kind: 'read' }],
    ['PUT', '/fleet/v1/units/web-1.service', { kind: 'unit-write', unit: 'web-1.service' }],
    ['DELETE', '/fleet/v1/units/db.service', { kind: 'unit-write', unit: 'db.service' }],
    ['PUT', '/v1-alpha/units/web-1.service', { kind: 'unit-write', unit: 'web-1.service' }],
    ['PATCH', '/fleet/v1/machines', { kind: 'admin' }],
    ['POST', '/fleet/v1/units', { kind: 'admin' }],
    ['PUT', '/fleet/v1/units', { kind: 'admin' }],
    ['PUT', '/fleet/v1/state/web-1.service', { kind: 'admin' }],
    ['PUT', '/fleet/v1/units/a/b', { kind: 'admin' }],
    ['POST', '/fleet/ext/v1/batch', { kind: 'batch' }],
    ['PUT', '/fleet/ext/v1/batch', { kind: 'admin' }],
    ['POST', '/fleet/ext/v1/batch/x', { kind: 'admin' }],
    ['POST', '/fleet/ext/v1/rollouts', { kind: 'rollout' }],
    ['POST', '/fleet/ext/v1/rollouts/r1/resume', { kind: 'rollout' }],
    ['POST', '/fleet/ext/v1/rollouts/r1/abort', { kind: 'rollout' }],
    ['GET', '/fleet/ext/v1/rollouts/r1', { kind: 'read' }],
    ['POST', '/fleet/ext/v1/rollouts/r1', { kind: 'admin' }],
    ['POST', '/fleet/ext/v1/rollouts/r1/other', { kind: 'admin' }],
    ['POST', '/fleet/ext/v1/rollouts//abort', { kind: 'admin' }],
    ['DELETE', '/fleet/ext/v1/rollouts/r1', { kind: 'admin' }],
    [
      'GET',
      '/fleet/ext/v1/units/web-1.service/status',
      { kind: 'unit-report', unit: 'web-1.service', report: 'status' },
    ],
    [
      'GET',
      '/fleet/ext/v1/units/db.service/journal',
      { kind: 'unit-report', unit: 'db.service', report: 'journal' },
    ],
    [
      'HEAD',
      '/fleet/ext/v1/units/db.service/journal',
      { kind: 'unit-report', unit: 'db.service', report: 'journal' },
    ],
    ['GET', '/fleet/ext/v1/units/db.service/other', { kind: 'read' }],
    ['GET', '/fleet/ext/v1/units/db.service/status/x', { kind: 'read' }],
    ['GET', '/fleet/v1/units/db.service/status', { kind: 'read' }],
    ['POST', '/fleet/ext/v1/units/db.service/status', { kind: 'admin' }],
  ] as const)('%s %s', (method, path, expected) => {
    expect(requestedAction(method, path.split('/').slice(1))).toEqual(expected);
  });
});

describe('role decisions: admin ⊃ operate ⊃ read, operate optionally limited to globs', () => {
  const read: Grant = { role: 'read', units: null };
  const operate: Grant = { role: 'operate', units: null };
  const operateWeb: Grant = { role: 'operate', units: ['web-*'] };
  const admin: Grant = { role: 'admin', units: null };
  const list: RequestedAction = { kind: 'read' };
  const writeWeb: RequestedAction = { kind: 'unit-write', unit: 'web-1.service' };
  const writeDb: RequestedAction = { kind: 'unit-write', unit: 'db.service' };
  const patch: RequestedAction = { kind: 'admin' };
  const batch: RequestedAction = { kind: 'batch' };
  const rollout: RequestedAction = { kind: 'rollout' };

  it.each([
    ['read', [read], list, true],
    ['read', [read], writeWeb, false],
    ['read', [read], patch, false],
    ['operate', [operate], list, true],
    ['operate', [operate], writeDb, true],
    ['operate', [operate], patch, false],
    ['operate web-*', [operateWeb], list, true],
    ['operate web-*', [operateWeb], writeWeb, true],
    ['operate web-*', [operateWeb], writeDb, false],
    ['operate web-*', [operateWeb], patch, false],
    ['admin', [admin], writeDb, true],
    ['admin', [admin], patch, true],
    ['read and operate web-*', [read, operateWeb], writeWeb, true],
    ['no grant', [], list, false],
    ['read', [read], batch, false],
    ['operate web-*', [operateWeb], batch, true],
    ['admin', [admin], batch, true],
    ['read', [read], rollout, false],
    ['operate web-*', [operateWeb], rollout, true],
    ['admin', [admin], rollout, true],
  ] as const)('%s on %j: %s', (_name, grants, action, expected) => {
    expect(grantsAllow(grants, action)).toBe(expected);
  });
});

describe('a unit status or journal needs operate on the unit: journals may hold secrets', () => {
  const read: Grant = { role: 'read', units: null };
  const operate: Grant = { role: 'operate', units: null };
  const operateWeb: Grant = { role: 'operate', units: ['web-*'] };
  const admin: Grant = { role: 'admin', units: null };
  const journalWeb: RequestedAction = {
    kind: 'unit-report',
    unit: 'web-1.service',
    report: 'journal',
  };
  const statusDb: RequestedAction = { kind: 'unit-report', unit: 'db.service', report: 'status' };

  it.each([
    ['read', [read], journalWeb, false],
    ['operate', [operate], statusDb, true],
    ['operate web-*', [operateWeb], journalWeb, true],
    ['operate web-*', [operateWeb], statusDb, false],
    ['admin', [admin], statusDb, true],
  ] as const)('%s on %j: %s', (_name, grants, action, expected) => {
    expect(grantsAllow(grants, action)).toBe(expected);
  });

  it('says what was refused and the role it needs', () => {
    expect(refusalReason(statusDb)).toBe(
      'reading the status or journal of unit "db.service" needs the operate role for a glob matching it',
    );
  });
});
