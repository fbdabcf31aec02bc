import { matchesUnitGlob } from './unit-glob.js';

/** Ordered: each role may do all that the ones before it may. */
export const ROLES = ['read', 'operate', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a caller was granted; `units` limits an `operate` grant's writes to matching names. */
export interface Grant {
  role: Role;
  units: readonly string[] | null;
}

/** What a request asks to do, as far as access is concerned. */
export type RequestedAction =
  | { kind: 'read' }
  | { kind: 'unit-write'; unit: string }
  | { kind: 'batch' }
  | { kind: 'rollout' }
  | { kind: 'unit-report'; unit: string; report: 'status' | 'journal' }
  | { kind: 'admin' };

const BATCH_SEGMENTS = 'fleet/ext/v1/batch';

const ROLLOUTS_PREFIX = ['fleet', 'ext', 'v1', 'rollouts'] as const;

const UNIT_REPORT_PREFIX = ['fleet', 'ext', 'v1', 'units'] as const;

const UNIT_ITEM_PREFIXES = [
  ['fleet', 'v1', 'units'],
  ['v1-alpha', 'units'],
] as const;

/**
 * The action of a request, from its method and its decoded path segments. Reads are GET and
 * HEAD; unit writes are PUT and DELETE of one unit; a batch (POST to ours) is let in with
 * `operate`, its units then authorised one by one, and so are a rollout's start, resume and
 * abort (POSTs to ours), each needing `operate` for every unit of the rollout; a unit's status or journal (ours) is a
 * read that needs `operate` on the unit, since journals may hold secrets; everything else
 * (machine metadata, methods no route takes) needs `admin`, so that nothing new is writable
 * by mistake.
 */
export function requestedAction(method: string, segments: readonly string[]): RequestedAction {
  if (method === 'GET' || method === 'HEAD') {
    return unitReportAction(segments) ?? { kind: 'read' };
  }
  if (method === 'POST' && segments.join('/') === BATCH_SEGMENTS) return { kind: 'batch' };
  if (method === 'POST' && isRolloutWrite(segments)) return { kind: 'rollout' };
  if (method === 'PUT' || method === 'DELETE') {
    for (const prefix of UNIT_ITEM_PREFIXES) {
      const rest = segments.slice(prefix.length);
      if (rest.length === 1 && prefix.every((segment, i) => segments[i] === segment)) {
        return { kind: 'unit-write', unit: rest[0] ?? '' };
      }
    }
  }
  return { kind: 'admin' };
}

/** `rollouts` itself (start) or `rollouts/<id>/resume` and `rollouts/<id>/abort`. */
function isRolloutWrite(segments: readonly string[]): boolean {
  if (!ROLLOUTS_PREFIX.every((segment, i) => segments[i] === segment)) return false;
  const rest = segments.slice(ROLLOUTS_PREFIX.length);
  if (rest.length === 0) return true;
  return rest.length === 2 && rest[0] !== '' && (rest[1] === 'resume' || rest[1] === 'abort');
}

function unitReportAction(segments: readonly string[]): RequestedAction | null {
  const [unit, report, ...rest] = segments.slice(UNIT_REPORT_PREFIX.length);
  if (!UNIT_REPORT_PREFIX.every((segment, i) => segments[i] === segment)) return null;
  if (unit === undefined || rest.length > 0) return null;
  if (report !== 'status' && report !== 'journal') return null;
  return { kind: 'unit-report', unit, report };
}

function rank(role: Role): number {
  return ROLES.indexOf(role);
}

function grantAllows(grant: Grant, action: RequestedAction): boolean {
  switch (action.kind) {
    case 'read':
      return true;
    case 'admin':
      return grant.role === 'admin';
    case 'batch':
    case 'rollout':
      return rank(grant.role) >= rank('operate');
    case 'unit-write':
    case 'unit-report':
      if (rank(grant.role) < rank('operate')) return false;
      if (grant.role === 'admin' || grant.units === null) return true;
      return grant.units.some((glob) => matchesUnitGlob(glob, action.unit));
  }
}

/** Whether any of the caller's grants allows the action. */
export function grantsAllow(grants: readonly Grant[], action: RequestedAction): boolean {
  return grants.some((grant) => grantAllows(grant, action));
}

/** The refusal's message: what was asked and which role it needs. */
export function refusalReason(action: RequestedAction): string {
  switch (action.kind) {
    case 'read':
      return 'reading needs the read role';
    case 'admin':
      return 'this request needs the admin role';
    case 'batch':
      return 'a batch needs the operate role';
    case 'rollout':
      return 'a rollout needs the operate role';
    case 'unit-write':
      return `writing unit ${JSON.stringify(action.unit)} needs the operate role for a glob matching it`;
    case 'unit-report':
      return `reading the status or journal of unit ${JSON.stringify(action.unit)} needs the operate role for a glob matching it`;
  }
}
