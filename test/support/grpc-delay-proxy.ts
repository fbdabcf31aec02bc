import {
  type ClientHttp2Session,
  connect,
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';

export const LEASE_KEEPALIVE = '/etcdserverpb.Lease/LeaseKeepAlive';

/** The gRPC methods of etcd that are streams: everything else is a unary call. */
const STREAMING_METHODS = new Set([LEASE_KEEPALIVE, '/etcdserverpb.Watch/Watch']);

export function isUnary(path: string): boolean {
  return !STREAMING_METHODS.has(path);
}

/** What the proxy is holding back: requests on matching paths wait until it is lifted. */
export interface Stall {
  /** How many requests it held (a held request the client gave up on counts too). */
  readonly held: number;
  /** How many held requests the client still waits for: those a lift would forward. */
  readonly waiting: number;
  /** Forwards what is still waiting and lets later requests through. */
  lift(): void;
}

interface Hold {
  matches: (path: string) => boolean;
  lifted: Promise<void>;
  lift: () => void;
  held: number;
  waiting: Set<ServerHttp2Stream>;
}

/**
 * A gRPC-aware HTTP/2 proxy in front of one etcd member: it forwards every call on its own
 * stream, so it can hold back the unary calls (`/etcdserverpb.KV/Range`, `Lease/LeaseGrant`,
 * …) while the lease keepalive stream still flows, which no packet-level fault can do when
 * both share one HTTP/2 connection. It can also withhold what etcd answers on streams.
 */
export class GrpcDelayProxy {
  private upstreamSession: ClientHttp2Session | null = null;
  private holds: Hold[] = [];
  private readonly muted = new Set<(path: string) => boolean>();
  private readonly streams = new Set<ServerHttp2Stream>();
  private readonly answers = new Map<string, number>();
  private readonly requests = new Map<string, number>();

  private constructor(
    private readonly server: Http2Server,
    private readonly upstream: string,
  ) {
    server.on('stream', (stream, headers) => void this.forward(stream, headers));
    server.on('session', (session) => session.on('error', () => undefined));
  }

  /** Starts a proxy on a loopback port of its own, forwarding to `upstream` (http://host:port). */
  static async start(upstream: string): Promise<GrpcDelayProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    return new GrpcDelayProxy(server, upstream);
  }

  /** The endpoint to give an etcd client in place of the member's. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Data frames etcd sent back on `path` that reached the client. */
  answered(path: string): number {
    return this.answers.get(path) ?? 0;
  }

  /** Data frames the client sent on `path` that reached etcd. */
  forwarded(path: string): number {
    return this.requests.get(path) ?? 0;
  }

  /** Holds every new request on a matching path (all unary calls by default) until lifted. */
  stall(matches: (path: string) => boolean = isUnary): Stall {
    let lift: () => void = () => undefined;
    const lifted = new Promise<void>((resolve) => {
      lift = resolve;
    });
    const hold: Hold = { matches, lifted, lift, held: 0, waiting: new Set() };
    this.holds.push(hold);
    return {
      get held() {
        return hold.held;
      },
      get waiting() {
        return [...hold.waiting].filter((stream) => !stream.closed && !stream.destroyed).length;
      },
      lift: () => {
        this.holds = this.holds.filter((other) => other !== hold);
        hold.lift();
      },
    };
  }

  /**
   * Forwards requests on matching paths, but drops what etcd answers on them: etcd renews
   * a lease whose keepalives it still receives, yet the client never hears that it did.
   * Returns a function that lets answers through again.
   */
  muteAnswers(matches: (path: string) => boolean): () => void {
    this.muted.add(matches);
    return () => this.muted.delete(matches);
  }

  async close(): Promise<void> {
    for (const hold of this.holds) hold.lift();
    this.holds = [];
    for (const stream of this.streams) stream.close(constants.NGHTTP2_CANCEL);
    this.upstreamSession?.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private session(): ClientHttp2Session {
    if (this.upstreamSession === null || this.upstreamSession.closed) {
      const session = connect(this.upstream);
      session.on('error', () => undefined);
      this.upstreamSession = session;
    }
    return this.upstreamSession;
  }

  private async forward(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    this.streams.add(stream);
    stream.on('close', () => this.streams.delete(stream));
    stream.on('error', () => undefined);
    const path = headers[':path'] ?? '';
    for (const hold of this.holds.filter((candidate) => candidate.matches(path))) {
      hold.held++;
      hold.waiting.add(stream);
      await hold.lifted;
      hold.waiting.delete(stream);
    }
    if (stream.closed || stream.destroyed) return;

    const request = this.session().request(requestHeaders(headers));
    request.on('error', () => undefined);
    let trailers: OutgoingHttpHeaders = { 'grpc-status': '0' };
    stream.on('data', () => this.requests.set(path, (this.requests.get(path) ?? 0) + 1));
    stream.pipe(request);
    stream.on('close', () => {
      if (!request.closed) request.close(constants.NGHTTP2_CANCEL);
    });
    request.on('response', (response) => {
      if (stream.closed) return;
      // A trailers-only answer (an error, typically) carries grpc-status in its headers.
      if (response['grpc-status'] !== undefined) {
        stream.respond(responseHeaders(response), { endStream: true });
        return;
      }
      stream.respond(responseHeaders(response), { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    });
    request.on('trailers', (received) => {
      trailers = responseHeaders(received);
    });
    request.on('data', (chunk: Buffer) => {
      if (stream.closed || !stream.headersSent) return;
      if ([...this.muted].some((matches) => matches(path))) return;
      this.answers.set(path, (this.answers.get(path) ?? 0) + 1);
      stream.write(chunk);
    });
    request.on('end', () => {
      if (!stream.closed && stream.headersSent) stream.end();
    });
    request.on('close', () => {
      if (!stream.closed && !stream.headersSent) stream.close(request.rstCode);
    });
  }
}

function requestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const forwarded: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === ':scheme' || name === ':authority') continue;
    forwarded[name] = value;
  }
  return forwarded;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const forwarded: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') && name !== ':status') continue;
    forwarded[name] = value;
  }
  return forwarded;
}
