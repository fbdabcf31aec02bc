import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { errorMessage } from '../error-message.js';
import type { RegistrySeam } from '../registry/ports.js';
import { watchForHangUp } from './client-gone.js';
import { plainExpress } from './plain-express.js';
import { routeOnDecodedPath } from './request-target.js';
import { sendError } from './respond.js';
import type { ApiContext } from './routes/context.js';
import { type UnitReports, unitReport } from './routes/unit-reports.js';

/** The organisation every peer certificate's subject names: what a fleetd is known by. */
export const PEER_ORGANISATION = 'fleet-peer';

export interface PeerHandlerOptions {
  registry: RegistrySeam;
  machineID: string;
  version: string;
  /** False until this fleetd has registered with etcd; every request then gets 503. */
  available: () => boolean;
  log: Logger;
}

/**
 * Whether a verified certificate's subject is a fleetd's. The CA the listener verifies
 * against may sign other certificates too (the API's clients, in the local cluster), and
 * only fleetds may call here.
 */
export function isPeerSubject(organisation: string | readonly string[] | undefined): boolean {
  if (organisation === undefined) return false;
  return typeof organisation === 'string'
    ? organisation === PEER_ORGANISATION
    : organisation.includes(PEER_ORGANISATION);
}

/**
 * What a fleetd's peer listener serves to other fleetds: the status and journal of its own
 * machine's units, and nothing else. TLS has already verified the caller's certificate
 * against the cluster CA; this refuses any that is not a peer's.
 */
export function createPeerHandler(options: PeerHandlerOptions): RequestListener {
  const app = plainExpress();

  const ctx: ApiContext = { registry: options.registry, tokenLimit: 1, log: options.log };
  const reports: UnitReports = { machineID: options.machineID, forwarder: null, hop: 'peer' };

  app.use((req: Request, res: Response, next: NextFunction) => {
    const socket = req.socket as TLSSocket;
    const organisation = socket.authorized ? socket.getPeerCertificate().subject?.O : undefined;
    if (!isPeerSubject(organisation)) {
      options.log.warn(
        { remote: req.socket.remoteAddress, organisation },
        `Refused a peer request without an O=${PEER_ORGANISATION} certificate`,
      );
      sendError(res, 403, `the peer listener serves only certificates with O=${PEER_ORGANISATION}`);
      return;
    }
    if (!options.available()) {
      sendError(res, 503, 'fleet server unable to communicate with etcd');
      return;
    }
    watchForHangUp(req, res, options.log);
    res.setHeader('Server', `fleetd/${options.version}`);
    if (routeOnDecodedPath(req, res)) next();
  });
  app.all(
    '/fleet/ext/v1/units/:name/:report',
    (req: Request<{ name: string; report: string }>, res: Response) =>
      unitReport(ctx, reports, req, res, req.params.name, req.params.report),
  );
  app.use((_req: Request, res: Response) => sendError(res, 404));
  app.use((err: unknown, _req: IncomingMessage, res: ServerResponse, _next: NextFunction) => {
    options.log.error({ err }, `Failed serving peer request: ${errorMessage(err)}`);
    if (res.headersSent) res.destroy();
    else sendError(res, 500);
  });
  return app;
}
