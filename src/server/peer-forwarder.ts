import type { ServerResponse } from 'node:http';
import { request } from 'node:https';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { PeerUnreachableError, type UnitReportForwarder } from '../api/routes/unit-reports.js';
import { errorMessage } from '../error-message.js';
import { type PeerCredentials, splitHostPort } from './peers.js';

/** How long a peer has to answer the request's headers; a followed journal may then idle. */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Forwards unit reports to other fleetds' peer listeners, presenting this machine's peer
 * certificate. The peer must present a certificate of the cluster CA whose CN is the
 * machine the request is for: an address in the registry is only a hint of where it is.
 */
export class TlsPeerForwarder implements UnitReportForwarder {
  constructor(private readonly credentials: Pick<PeerCredentials, 'cert' | 'key' | 'ca'>) {}

  forward(
    target: { machineID: string; address: string },
    pathAndQuery: string,
    res: ServerResponse,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { host, port } = splitHostPort(target.address);
    return new Promise((resolve, reject) => {
      let answered = false;
      const upstream = request(
        {
          host,
          port,
          path: pathAndQuery,
          method: 'GET',
          cert: this.credentials.cert,
          key: this.credentials.key,
          ca: this.credentials.ca,
          ...(isIP(host) === 0 && { servername: host }),
          checkServerIdentity: (_host: string, cert: PeerCertificate) =>
            cert.subject?.CN === target.machineID
              ? undefined
              : new Error(
                  `its certificate names ${cert.subject?.CN ?? 'no machine'}, not ${target.machineID}`,
                ),
          agent: false,
          ...(signal !== undefined && { signal }),
        },
        (answer) => {
          answered = true;
          upstream.setTimeout(0);
          res.statusCode = answer.statusCode ?? 502;
          const type = answer.headers['content-type'];
          if (type !== undefined) res.setHeader('Content-Type', type);
          res.flushHeaders();
          answer.pipe(res);
          // A cut stream ends here without its exit line, which tells the client.
          answer.once('error', () => res.end());
          answer.once('aborted', () => res.end());
          res.once('close', () => resolve());
        },
      );
      upstream.setTimeout(ANSWER_TIMEOUT_MS, () =>
        upstream.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`)),
      );
      upstream.once('error', (err) => {
        if (!answered) {
          reject(new PeerUnreachableError(errorMessage(err)));
          return;
        }
        res.end();
        resolve();
      });
      upstream.end();
    });
  }
}
