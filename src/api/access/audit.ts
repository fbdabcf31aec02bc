import type { ServerResponse } from 'node:http';
import type { RequestedAction } from './roles.js';

/**
 * The audit trail: one pino line with `msg: "audit"` for every write and every refusal, so
 * operators can ship them from journald. Its fields are documented in docs/security.md.
 */
export interface AuditRecord {
  /** `socket:<path>`, `cert:<subject>`, `token:<name>`, both, or `tcp:<address>` if unknown. */
  who: string;
  action: string;
  method: string;
  path: string;
  unit?: string;
  machines?: readonly string[];
  /** A batch's units, each with the status of its own outcome. */
  units?: readonly AuditedUnit[];
  /** The HTTP status answered; 0 if the client went away before an answer. */
  status: number;
  result: 'ok' | 'failed' | 'refused' | 'dropped';
  reason?: string;
}

export interface AuditedUnit {
  unit: string;
  status: number;
}

export const AUDIT_MESSAGE = 'audit';

/**
 * `unit.put`, `unit.delete`, `units.batch`, `rollout.start`, `rollout.resume`,
 * `rollout.abort`, `unit.status`, `unit.journal`, `machines.patch`,
 * `machine.cordon`, `machine.uncordon`, `machine.drain`, `read`, or the method for anything
 * else.
 */
export function auditAction(method: string, action: RequestedAction, path: string): string {
  if (action.kind === 'unit-write') return `unit.${method.toLowerCase()}`;
  if (action.kind === 'batch') return 'units.batch';
  if (action.kind === 'rollout') {
    return `rollout.${/\/(resume|abort)$/.exec(path)?.[1] ?? 'start'}`;
  }
  if (action.kind === 'unit-report') return `unit.${action.report}`;
  if (action.kind === 'read') return 'read';
  if (method === 'PATCH' && /^\/(?:fleet\/v1|v1-alpha)\/machines$/.test(path)) {
    return 'machines.patch';
  }
  const cordon = /^\/fleet\/ext\/v1\/machines\/[^/]+\/(cordon|drain)$/.exec(path)?.[1];
  if (cordon === 'drain' && method === 'POST') return 'machine.drain';
  if (cordon === 'cordon' && method === 'PUT') return 'machine.cordon';
  if (cordon === 'cordon' && method === 'DELETE') return 'machine.uncordon';
  return method.toLowerCase();
}

export function resultOf(status: number, answered: boolean): AuditRecord['result'] {
  if (!answered) return 'dropped';
  return status >= 200 && status < 300 ? 'ok' : 'failed';
}

const auditedMachines = new WeakMap<ServerResponse, readonly string[]>();

/** Names the machines a metadata edit touches, for its audit line. */
export function noteAuditedMachines(res: ServerResponse, machineIDs: readonly string[]): void {
  auditedMachines.set(res, [...new Set(machineIDs)]);
}

export function auditedMachinesOf(res: ServerResponse): readonly string[] | undefined {
  return auditedMachines.get(res);
}

const auditedUnits = new WeakMap<ServerResponse, readonly AuditedUnit[]>();

/** Names a batch's units and their outcomes, for its audit line. */
export function noteAuditedUnits(res: ServerResponse, units: readonly AuditedUnit[]): void {
  auditedUnits.set(res, units);
}

export function auditedUnitsOf(res: ServerResponse): readonly AuditedUnit[] | undefined {
  return auditedUnits.get(res);
}
