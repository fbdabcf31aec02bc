import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { AccessFileHolder } from '../api/access/access-file-holder.js';
import type { AccessGateOptions } from '../api/access/access-gate.js';
import { LOOPBACK_NAMES, normalizeName, subjectAltNames } from '../api/access/host-names.js';
import type { ApiServer, ApiTransport } from '../api/serve.js';
import type { FleetConfig } from '../config/index.js';
import { errorMessage } from '../error-message.js';

/** How fleetd's API listeners speak and who may call them, set up once for the process. */
export interface ApiSecurity {
  transport: ApiTransport;
  access: Omit<AccessGateOptions, 'log'>;
  /** Warns of plain TCP, and reads the access file when a TLS listener is open. */
  listening(api: ApiServer): Promise<void>;
}

/** What is wrong with the TLS options as a whole, or null. */
export function tlsOptionsProblem(config: FleetConfig): string | null {
  const cert = config.apiTlsCertFile !== '';
  const key = config.apiTlsKeyFile !== '';
  if (cert !== key) return 'api_tls_cert_file and api_tls_key_file must be set together';
  if (config.apiClientCaFile !== '' && !cert) {
    return 'api_client_ca_file needs api_tls_cert_file and api_tls_key_file';
  }
  return null;
}

function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${option} ${path}: ${errorMessage(err)}`);
  }
}

export function prepareApiSecurity(config: FleetConfig, log: Logger): ApiSecurity {
  const problem = tlsOptionsProblem(config);
  if (problem !== null) throw new Error(problem);
  const tls =
    config.apiTlsCertFile === ''
      ? null
      : {
          cert: readPem('api_tls_cert_file', config.apiTlsCertFile),
          key: readPem('api_tls_key_file', config.apiTlsKeyFile),
          clientCa:
            config.apiClientCaFile === ''
              ? null
              : readPem('api_client_ca_file', config.apiClientCaFile),
        };
  const names = new Set([...LOOPBACK_NAMES, normalizeName(hostname())]);
  if (config.publicIP !== '') names.add(normalizeName(config.publicIP));
  if (tls !== null) {
    for (const name of subjectAltNames(new X509Certificate(tls.cert).subjectAltName)) {
      names.add(name);
    }
  }
  const holder = new AccessFileHolder(config.apiAccessFile, log);
  return {
    transport: { tls, plainTcp: config.apiInsecureTcp },
    access: { accessList: () => holder.current(), ownNames: () => names },
    listening: async (api) => {
      let secure = false;
      for (const listener of api.listeners) {
        if (listener.transport !== 'tcp') continue;
        names.add(normalizeName(listener.address.replace(/:\d+$/, '')));
        if (listener.tls) secure = true;
        else {
          log.warn(
            `api_insecure_tcp=true: serving the API on ${listener.address} as plain HTTP without authentication; anyone who can reach it controls every machine`,
          );
        }
      }
      if (!secure) return;
      await holder.loadAtStart();
      // Apart from the configuration reload, so that a broken fleet.conf cannot keep a revoked
      // token alive.
      process.on('SIGHUP', () => void holder.reload());
    },
  };
}
