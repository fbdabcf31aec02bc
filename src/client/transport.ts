import { readFileSync } from 'node:fs';
import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ApiEndpoint } from './endpoint.js';

/** TLS material for `https://` endpoints (fleetctl's `--ca-file`, `--cert-file`, `--key-file`). */
export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Opens the byte stream a request travels over, instead of dialling (fleetctl's `--tunnel`). */
export type ConnectionFactory = () => Promise<Duplex>;

export interface TransportResponse {
  status: number;
  body: string;
}

/** An answer whose body is still arriving. */
export interface StreamingResponse {
  status: number;
  body: IncomingMessage;
  /** Words an error of the body's stream as Go's `*url.Error` for this request. */
  describe: (err: Error) => Error;
}

/** A request that got no HTTP answer, worded as Go's `*url.Error` (`Get "<url>": …`). */
export class TransportError extends Error {
  override name = 'TransportError';
}

interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * Sends HTTP/1.1 requests to one endpoint. Deviation: fleetctl skipped certificate
 * verification unless a client certificate was given, even with a CA; we always verify,
 * against the CA file when there is one.
 */
export class Transport {
  private readonly tls: TlsOptions;
  /** Keeps connections for the pages of a list; none when a factory makes them. */
  private readonly agent: HttpAgent | undefined;

  constructor(
    private readonly endpoint: ApiEndpoint,
    tlsFiles: TlsFiles,
    private readonly timeoutMs: number | undefined,
    private readonly createConnection: ConnectionFactory | undefined,
    private readonly token?: string,
  ) {
    this.tls = readTlsFiles(tlsFiles);
    if (createConnection === undefined) {
      this.agent =
        endpoint.protocol === 'https'
          ? new HttpsAgent({ keepAlive: true, ...this.tls })
          : new HttpAgent({ keepAlive: true });
    }
  }

  /** Closes the connections kept open. */
  close(): void {
    this.agent?.destroy();
  }

  send(method: string, url: string, body?: string): Promise<TransportResponse> {
    return this.request(method, url, body, (res, fail) => {
      return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => reject(fail(err)));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      });
    });
  }

  /**
   * A GET whose answer is read as it arrives: resolves at the response headers. The request
   * timeout covers the wait for them only, as a followed stream may stay quiet for long;
   * `signal` hangs up at any time, which is how the server learns to stop.
   */
  stream(url: string, signal: AbortSignal): Promise<StreamingResponse> {
    return this.request(
      'GET',
      url,
      undefined,
      async (res, fail, req) => {
        req.setTimeout(0);
        return { status: res.statusCode ?? 0, body: res, describe: fail };
      },
      signal,
    );
  }

  /** Sends one request; `read` turns the response into the result. */
  private request<T>(
    method: string,
    url: string,
    body: string | undefined,
    read: (res: IncomingMessage, fail: (err: Error) => Error, req: ClientRequest) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const failWith = (detail: string) =>
      new TransportError(`${method[0]}${method.slice(1).toLowerCase()} "${url}": ${detail}`);
    if (this.endpoint.protocol !== 'http' && this.endpoint.protocol !== 'https') {
      return Promise.reject(failWith(`unsupported protocol scheme "${this.endpoint.protocol}"`));
    }
    const target = new URL(url);
    const fail = (err: Error) =>
      err instanceof TransportError
        ? err
        : failWith(describeError(err as NodeJS.ErrnoException, this.endpoint, target));
    const headers: Record<string, string> = { 'User-Agent': 'google-api-go-client/0.5' };
    // Set before `auth` is considered: Node adds Basic credentials from the URL only when
    // no Authorization header is there, so the token wins over userinfo.
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`;
    const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const options: RequestOptions = {
      method,
      path: `${target.pathname}${target.search}`,
      headers,
      ...(this.endpoint.userinfo !== '' && { auth: decodeURIComponent(this.endpoint.userinfo) }),
      ...(this.endpoint.socketPath !== undefined
        ? { socketPath: this.endpoint.socketPath, host: 'domain-sock' }
        : { host: target.hostname.replace(/^\[(.*)\]$/, '$1'), port: target.port }),
      ...(signal !== undefined && { signal }),
    };
    const https = this.endpoint.protocol === 'https';
    const send = https ? httpsRequest : httpRequest;
    const connection =
      this.createConnection === undefined
        ? { agent: this.agent }
        : this.viaFactory(this.createConnection, https, target.hostname);
    return new Promise((resolve, reject) => {
      const req = send({ ...options, ...this.tls, ...connection }, (res: IncomingMessage) => {
        read(res, fail, req).then(resolve, reject);
      });
      if (this.timeoutMs !== undefined) {
        req.setTimeout(this.timeoutMs, () =>
          req.destroy(
            failWith('context deadline exceeded (Client.Timeout exceeded while awaiting headers)'),
          ),
        );
      }
      req.on('error', (err) => reject(fail(err)));
      req.end(payload);
    });
  }

  /** Request options that route the connection through the factory, TLS on top for https. */
  private viaFactory(
    factory: ConnectionFactory,
    https: boolean,
    servername: string,
  ): Pick<RequestOptions, 'createConnection'> {
    return {
      createConnection: (_options, onCreate) => {
        factory().then(
          (stream) =>
            onCreate(
              null,
              https ? tlsConnect({ socket: stream, servername, ...this.tls }) : stream,
            ),
          (err: Error) => onCreate(err, undefined as never),
        );
        return undefined;
      },
    };
  }
}

function readTlsFiles(files: TlsFiles): TlsOptions {
  if ((files.certFile ?? '') !== '' && (files.keyFile ?? '') === '') {
    throw new Error('a client certificate needs a key file as well');
  }
  if ((files.keyFile ?? '') !== '' && (files.certFile ?? '') === '') {
    throw new Error('a client key needs a certificate file as well');
  }
  const read = (path: string | undefined): Buffer | undefined => {
    if (path === undefined || path === '') return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`open ${path}: ${goErrnoText(err as NodeJS.ErrnoException)}`);
    }
  };
  const tls: TlsOptions = {};
  const ca = read(files.caFile);
  const cert = read(files.certFile);
  const key = read(files.keyFile);
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  return tls;
}

/** Go's rendering of what went wrong below HTTP, as far as Node tells us. */
function describeError(err: NodeJS.ErrnoException, endpoint: ApiEndpoint, target: URL): string {
  const dial =
    endpoint.socketPath !== undefined
      ? `dial unix ${endpoint.socketPath}`
      : `dial tcp ${target.host}`;
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOENT':
    case 'EACCES':
    case 'ETIMEDOUT':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `${dial}: connect: ${goErrnoText(err)}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${target.hostname}: no such host`;
    case 'ECONNRESET':
      return 'EOF';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'x509: certificate signed by unknown authority';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `x509: certificate is not valid for ${target.hostname}`;
    default:
      return err.message;
  }
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ETIMEDOUT: 'connection timed out',
  ENETUNREACH: 'network is unreachable',
  EHOSTUNREACH: 'no route to host',
  EISDIR: 'is a directory',
};

/** The C library's text for an errno, as Go prints `syscall.Errno`. */
function goErrnoText(err: NodeJS.ErrnoException): string {
  return (err.code !== undefined ? ERRNO_TEXT[err.code] : undefined) ?? err.message;
}
