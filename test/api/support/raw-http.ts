import { request } from 'node:http';

/** Where a server under test listens: `http://host:port` or `unix:///path/to/socket`. */
export type BaseUrl = string;

export interface RawRequest {
  method: string;
  /** Sent exactly as given: path and query, already percent-encoded. */
  path: string;
  /** A value given as an array is sent as that many header lines. */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export interface RawResponse {
  /** 0 when the server closed the connection without answering. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One request on a fresh connection, with nothing added but `Host` and (when there is a
 * body) `Content-Length`, so that tests see exactly how the server treats what they send.
 */
export function sendRaw(baseUrl: BaseUrl, raw: RawRequest): Promise<RawResponse> {
  const target = connectionOf(baseUrl);
  const body = raw.body === undefined ? undefined : Buffer.from(raw.body);
  const headers: Record<string, string | string[]> = { ...raw.headers };
  if (body !== undefined) headers['Content-Length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = request(
      { ...target, method: raw.method, path: raw.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.message === 'socket hang up') {
        resolve({ status: 0, headers: {}, body: '' });
      } else {
        reject(err);
      }
    });
    req.end(body);
  });
}

function connectionOf(baseUrl: BaseUrl): { socketPath: string } | { host: string; port: number } {
  if (baseUrl.startsWith('unix://')) return { socketPath: baseUrl.slice('unix://'.length) };
  const url = new URL(baseUrl);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) };
}
