import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { sendError } from '../respond.js';
import { isDashboardPath } from '../routes/dashboard.js';
import { servedOnOf } from '../served-on.js';
import type { AccessList } from './access-file.js';
import {
  AUDIT_MESSAGE,
  type AuditRecord,
  auditAction,
  auditedMachinesOf,
  auditedUnitsOf,
  resultOf,
} from './audit.js';
import { identifyCaller, type PresentedCertificate } from './caller.js';
import { hostAllowed, normalizeName } from './host-names.js';
import { type Grant, grantsAllow, refusalReason, requestedAction } from './roles.js';

export interface AccessGateOptions {
  /** The access list in force (it changes on SIGHUP). */
  accessList: () => AccessList;
  /** fleetd's own names and addresses besides the one a connection came in on. */
  ownNames: () => ReadonlySet<string>;
  log: Logger;
}

type Next = (err?: unknown) => void;

interface KnownCaller {
  who: string;
  grants: readonly Grant[];
}

/** Whoever can open a unix socket was let in by its owner, group and mode. */
const FULL_RIGHTS: readonly Grant[] = [{ role: 'admin', units: null }];

/**
 * The HTTP side of access control. `admit` runs first and answers 403 to a foreign Host and
 * 401 to an unknown caller on TCP; `authorize` runs once the path is decoded and answers 403
 * when the caller's roles do not allow the request, or has the write audited when answered.
 * `grantsOf` tells a route what the caller may do, for a batch to authorise unit by unit.
 */
export function createAccessGate(options: AccessGateOptions) {
  const callers = new WeakMap<IncomingMessage, KnownCaller>();

  const audit = (record: AuditRecord) => options.log.info(record, AUDIT_MESSAGE);

  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    who: string,
    status: 401 | 403,
    reason: string,
  ) => {
    const path = pathOf(req);
    const action = requestedAction(req.method ?? '', segmentsOf(path));
    audit({
      who,
      action: auditAction(req.method ?? '', action, path),
      method: req.method ?? '',
      path,
      ...('unit' in action && { unit: action.unit }),
      status,
      result: 'refused',
      reason,
    });
    sendError(res, status, reason);
  };

  const admit = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const served = servedOnOf(req);
    if (served?.transport === 'unix') {
      callers.set(req, { who: `socket:${served.path}`, grants: FULL_RIGHTS });
      next();
      return;
    }
    const remote = `tcp:${req.socket.remoteAddress ?? 'unknown'}`;
    if (served === undefined) {
      refuse(req, res, remote, 401, 'request did not come in on a listener of this fleetd');
      return;
    }
    const own = new Set(options.ownNames());
    if (req.socket.localAddress !== undefined) own.add(normalizeName(req.socket.localAddress));
    const host = req.headersDistinct.host ?? [];
    if (!hostAllowed(host, own)) {
      refuse(
        req,
        res,
        remote,
        403,
        `Host ${JSON.stringify(host.join(', '))} does not name this fleetd`,
      );
      return;
    }
    if (isDashboardAssetRequest(req)) {
      // A browser cannot send a bearer token when it loads a page: the page and its scripts
      // hold no cluster data, the person types the token into it and every API call checks it.
      next();
      return;
    }
    if (!served.tls) {
      // api_insecure_tcp: fleet's own behaviour, which the start-up warning spelt out.
      callers.set(req, { who: remote, grants: FULL_RIGHTS });
      next();
      return;
    }
    const caller = identifyCaller(
      {
        authorization: req.headersDistinct.authorization ?? [],
        certificate: presentedCertificate(req.socket as TLSSocket),
      },
      options.accessList(),
    );
    if (!caller.known) {
      refuse(req, res, remote, 401, caller.reason);
      return;
    }
    callers.set(req, caller);
    next();
  };

  const authorize = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const caller = callers.get(req);
    const path = pathOf(req);
    const method = req.method ?? '';
    const action = requestedAction(method, segmentsOf(path));
    if (caller === undefined && isDashboardAssetRequest(req)) {
      next();
      return;
    }
    if (caller === undefined) {
      refuse(req, res, 'unknown', 401, 'caller not identified');
      return;
    }
    if (!grantsAllow(caller.grants, action)) {
      refuse(req, res, caller.who, 403, refusalReason(action));
      return;
    }
    if (action.kind !== 'read') {
      res.once('close', () => {
        const machines = auditedMachinesOf(res);
        const units = auditedUnitsOf(res);
        audit({
          who: caller.who,
          action: auditAction(method, action, path),
          method,
          path,
          ...('unit' in action && { unit: action.unit }),
          ...(machines !== undefined && { machines }),
          ...(units !== undefined && { units }),
          status: res.writableFinished ? res.statusCode : 0,
          result: resultOf(res.statusCode, res.writableFinished),
        });
      });
    }
    next();
  };

  /** What the gate let the request's caller do; undefined for a request it never admitted. */
  const grantsOf = (req: IncomingMessage): readonly Grant[] | undefined => callers.get(req)?.grants;

  return { admit, authorize, grantsOf };
}

/** Null when the listener asks for no certificate or the client sent none. */
function presentedCertificate(socket: TLSSocket): PresentedCertificate | null {
  if (typeof socket.getPeerCertificate !== 'function') return null;
  const certificate = socket.getPeerCertificate();
  if (certificate === null || Object.keys(certificate).length === 0) return null;
  if (!socket.authorized) {
    return { verified: false, reason: String(socket.authorizationError ?? 'not verified') };
  }
  const subject = Object.fromEntries(
    Object.entries(certificate.subject).filter(
      (entry): entry is [string, string | string[]] => entry[1] !== undefined,
    ),
  );
  return { verified: true, subject };
}

function isDashboardAssetRequest(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && isDashboardPath(pathOf(req));
}

/** The decoded path: after `routeOnDecodedPath`, each segment is one encoded segment. */
function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const question = url.indexOf('?');
  return question < 0 ? url : url.slice(0, question);
}

function segmentsOf(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
}
