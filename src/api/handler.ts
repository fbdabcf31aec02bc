import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { errorMessage } from '../error-message.js';
import type { RegistrySeam } from '../registry/ports.js';
import { type AccessGateOptions, createAccessGate } from './access/access-gate.js';
import { watchForHangUp } from './client-gone.js';
import { DISCOVERY_DOCUMENT } from './discovery-document.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import { plainExpress } from './plain-express.js';
import { BodyTooLargeError } from './request-body.js';
import { routeOnDecodedPath } from './request-target.js';
import { JSON_CONTENT_TYPE, sendError } from './respond.js';
import { unitsBatch } from './routes/batch.js';
import type { ApiContext } from './routes/context.js';
import { cordonsCollection, machineCordon } from './routes/cordons.js';
import { dashboardAssets } from './routes/dashboard.js';
import { eventStream } from './routes/events.js';
import { machinesCollection } from './routes/machines.js';
import { rolloutItem, rolloutsCollection } from './routes/rollouts.js';
import { stateCollection, stateItem } from './routes/state.js';
import { type UnitReports, unitReport } from './routes/unit-reports.js';
import { unitItem, unitsCollection } from './routes/units.js';

export interface ApiHandlerOptions {
  registry: RegistrySeam;
  /** fleetd's version, sent as `Server: fleetd/<version>`. */
  version: string;
  /** Page size of every list (fleet's `token_limit`). */
  tokenLimit: number;
  /** False until this fleetd has registered with etcd; every request then gets 503. */
  available: () => boolean;
  /** Prometheus text for `/metrics`; empty when not given. */
  metrics?: () => string;
  /**
   * Who may do what, and the audit trail of writes and refusals. Without it every caller may
   * do everything and nothing is audited, as in fleet: tests of the original behaviour.
   */
  access?: Omit<AccessGateOptions, 'log'>;
  /**
   * Ours: this machine and how to reach the others, for units' status and journal; without
   * it those paths answer fleet's 404.
   */
  reports?: Omit<UnitReports, 'hop'>;
  /** Ours: the dashboard's built assets, served at `/ui/` (default: dist/ui). */
  dashboardDir?: string;
  log: Logger;
}

/** The current prefix and the legacy one fleet kept serving. */
const PREFIXES = ['/fleet/v1', '/v1-alpha'] as const;

const UNAVAILABLE = 'fleet server unable to communicate with etcd';

/**
 * fleet's HTTP API v1. express only routes: bodies, query strings and responses go through
 * our own Go-compatible readers and writers, so no express default (HTML errors, ETag,
 * X-Powered-By, HEAD answered as GET, lenient slashes) reaches the wire.
 */
export function createApiHandler(options: ApiHandlerOptions): RequestListener {
  const app = plainExpress();

  const gate =
    options.access === undefined ? null : createAccessGate({ ...options.access, log: options.log });
  if (gate !== null) app.use(gate.admit);
  const ctx: ApiContext = {
    registry: options.registry,
    tokenLimit: options.tokenLimit,
    ...(gate !== null && { grantsOf: gate.grantsOf }),
    log: options.log,
  };

  app.use((req: Request, res: Response, next: NextFunction) => {
    // fleet swapped in a bare handler until registration, so this 503 has no Server header.
    if (!options.available()) {
      sendError(res, 503, UNAVAILABLE);
      return;
    }
    options.log.debug(`HTTP ${req.method} ${req.url}`);
    watchForHangUp(req, res, options.log);
    res.setHeader('Server', `fleetd/${options.version}`);
    if (routeOnDecodedPath(req, res)) next();
  });
  if (gate !== null) app.use(gate.authorize);

  for (const prefix of PREFIXES) {
    app.all(`${prefix}/discovery`, (req: Request, res: Response) => discovery(req, res));
    app.all(`${prefix}/machines`, (req: Request, res: Response) =>
      machinesCollection(ctx, req, res),
    );
    app.all(`${prefix}/units`, (req: Request, res: Response) => unitsCollection(ctx, req, res));
    app.all(`${prefix}/units/:name`, (req: Request<{ name: string }>, res: Response) =>
      unitItem(ctx, req, res, req.params.name),
    );
    app.all(`${prefix}/state`, (req: Request, res: Response) => stateCollection(ctx, req, res));
    app.all(`${prefix}/state/:name`, (req: Request<{ name: string }>, res: Response) =>
      stateItem(ctx, req, res, req.params.name),
    );
    app.all(prefix, (_req: Request, res: Response) => sendError(res, 405));
  }
  // Ours, not fleet's: everything we add to the API lives under /fleet/ext/v1.
  app.all('/fleet/ext/v1/batch', (req: Request, res: Response) => unitsBatch(ctx, req, res));
  const dashboard = dashboardAssets(options.dashboardDir);
  app.all(['/ui', '/ui/', '/ui/:file'], (req: Request, res: Response) =>
    dashboard(req, res, req.path),
  );
  app.all('/fleet/ext/v1/rollouts', (req: Request, res: Response) =>
    rolloutsCollection(ctx, req, res),
  );
  app.all(
    ['/fleet/ext/v1/rollouts/:id', '/fleet/ext/v1/rollouts/:id/:action'],
    (req: Request<{ id: string; action?: string }>, res: Response) =>
      rolloutItem(ctx, req, res, req.params.id, req.params.action ?? null),
  );
  app.all('/fleet/ext/v1/machines', (req: Request, res: Response) =>
    cordonsCollection(ctx, req, res),
  );
  app.all(
    '/fleet/ext/v1/machines/:id/:action',
    (req: Request<{ id: string; action: string }>, res: Response) =>
      machineCordon(ctx, req, res, req.params.id, req.params.action),
  );
  app.all('/fleet/ext/v1/events', (req: Request, res: Response) => eventStream(ctx, req, res));
  const reports = options.reports && { ...options.reports, hop: 'entry' as const };
  app.all(
    '/fleet/ext/v1/units/:name/:report',
    (req: Request<{ name: string; report: string }>, res: Response) =>
      unitReport(ctx, reports, req, res, req.params.name, req.params.report),
  );
  app.all('/metrics', (req: Request, res: Response) => metrics(req, res, options.metrics));

  // fleet's catch-all: the root refuses every method, anything else does not exist.
  app.use((req: Request, res: Response) => sendError(res, req.path === '/' ? 405 : 404));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof BodyTooLargeError) {
      // The rest of the body is never read, so the connection cannot carry another request.
      res.setHeader('Connection', 'close');
      sendError(res, 413, err.message);
      return;
    }
    options.log.error({ err }, `Failed serving HTTP request: ${errorMessage(err)}`);
    if (res.headersSent) res.destroy();
    else sendError(res, 500);
  });

  return app;
}

function discovery(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET') {
    sendError(res, 400, 'only HTTP GET supported against this resource');
    return;
  }
  const body = Buffer.from(DISCOVERY_DOCUMENT, 'utf8');
  res.statusCode = 200;
  res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

function metrics(
  req: IncomingMessage,
  res: ServerResponse,
  render: (() => string) | undefined,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 405, 'only GET supported against this resource');
    return;
  }
  const body = Buffer.from(render?.() ?? '', 'utf8');
  res.statusCode = 200;
  res.setHeader('Content-Type', METRICS_CONTENT_TYPE);
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
