import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IDefaultPolicyContext,
  type IPolicy,
  type RetryPolicy,
  retry,
} from 'cockatiel';
import { Etcd3, GRPCCancelledError, type IOptions, isRecoverableError } from 'etcd3';
import { errorMessage } from '../error-message.js';

/**
 * How to reach etcd, in the terms of fleet.conf (`etcd_servers`, `etcd_cafile`, `etcd_certfile`,
 * `etcd_keyfile`, `etcd_username`, `etcd_password`, `etcd_request_timeout`). An empty string
 * means "not set", as in fleet.
 */
export interface EtcdConnectionConfig {
  endpoints: readonly string[];
  caFile: string;
  certFile: string;
  keyFile: string;
  username: string;
  password: string;
  requestTimeoutMs: number;
}

// The watch and lease keepalive streams are long-lived, so a dead peer (cable pulled, host
// frozen) is only noticed through HTTP/2 pings. etcd refuses pings more often than every 5 s
// (--grpc-keepalive-min-time) with "too many pings", so stay above that.
const KEEPALIVE_INTERVAL_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 5_000;

function readConfiguredFile(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${option} ${JSON.stringify(path)}: ${errorMessage(err)}`);
  }
}

function tlsCredentials(config: EtcdConnectionConfig): IOptions['credentials'] {
  // As in fleet, the TLS files only matter for https endpoints; etcd3 would otherwise speak
  // TLS to every endpoint once it has credentials.
  if (!config.endpoints.some((endpoint) => endpoint.startsWith('https://'))) return undefined;
  if (config.caFile === '' && config.certFile === '' && config.keyFile === '') return undefined;
  if ((config.certFile === '') !== (config.keyFile === '')) {
    throw new Error('etcd_certfile and etcd_keyfile must be given together');
  }
  return {
    rootCertificate:
      config.caFile === ''
        ? // etcd3 types this as a Buffer but hands it to grpc's createSsl, where null selects
          // the system's root certificates: a client certificate without a CA file.
          (null as unknown as Buffer)
        : readConfiguredFile('etcd_cafile', config.caFile),
    ...(config.certFile === ''
      ? {}
      : {
          certChain: readConfiguredFile('etcd_certfile', config.certFile),
          privateKey: readConfiguredFile('etcd_keyfile', config.keyFile),
        }),
  };
}

/**
 * After three failed calls, a member's breaker opens and calls go to the other members.
 * etcd3 keeps it open for 5 s; lease keepalives go through it too, so with a short
 * agent_ttl a one-second etcd restart could cost every machine its lease. Half-open
 * after a fraction of the shortest TTL instead.
 */
const HALF_OPEN_AFTER_MS = 300;

/**
 * A call failed for want of a healthy member. A cancellation does not count: this client
 * cancels calls itself (a watch being stopped), which says nothing about the member, and
 * three of them in a row would otherwise open the breaker on a healthy cluster.
 */
function isMemberFailure(err: Error): boolean {
  return isRecoverableError(err) && !(err instanceof GRPCCancelledError);
}

function hostCircuitBreaker() {
  return circuitBreaker(handleWhen(isMemberFailure), {
    halfOpenAfter: HALF_OPEN_AFTER_MS,
    breaker: new ConsecutiveBreaker(3),
  });
}

/**
 * Retries a call that failed for want of a connection (or met an open breaker) with
 * backoff, long enough to outlast a breaker's open window. Every write of the registry
 * is compare-guarded or idempotent, so a retried write cannot apply twice.
 */
function retryWithBackoff(): RetryPolicy {
  return retry(
    handleWhen((err) => isMemberFailure(err) || err instanceof BrokenCircuitError),
    { maxAttempts: 4, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) },
  );
}

/** The signal that calls off the etcd calls made in the current asynchronous context. */
const callOff = new AsyncLocalStorage<AbortSignal>();

/**
 * Runs `work` so that none of its etcd calls is tried again once `signal` is aborted: a
 * retried write sent after its caller gave up could land after a later one. The attempt
 * already sent still completes or meets its deadline (`etcd_request_timeout`).
 */
export function calledOffBy<T>(
  signal: AbortSignal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  return signal === undefined ? work() : callOff.run(signal, work);
}

/** etcd3's policy around each call: retries, unless the caller has called the call off. */
class RetryUnlessCalledOff implements IPolicy {
  declare readonly _altReturn: never;
  constructor(private readonly retrying: RetryPolicy) {}

  get onSuccess() {
    return this.retrying.onSuccess;
  }

  get onFailure() {
    return this.retrying.onFailure;
  }

  execute<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal?: AbortSignal,
  ): Promise<T> {
    const calledOff = callOff.getStore();
    if (calledOff === undefined) return this.retrying.execute(fn, signal);
    return this.retrying.execute((context) => {
      calledOff.throwIfAborted();
      return fn(context);
    }, calledOff);
  }
}

/** Translates our configuration into the options of the etcd3 client. */
export function etcdClientOptions(config: EtcdConnectionConfig): IOptions {
  if (config.endpoints.length === 0) throw new Error('etcd_servers lists no endpoint');
  const credentials = tlsCredentials(config);
  const requestTimeoutMs = config.requestTimeoutMs;
  return {
    hosts: [...config.endpoints],
    ...(credentials === undefined ? {} : { credentials }),
    ...(config.username === ''
      ? {}
      : { auth: { username: config.username, password: config.password } }),
    // A deadline on every unary call; streams (watch, lease keepalive) live indefinitely.
    // etcd3 retries a failed call up to 3 times, each attempt with a fresh deadline.
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs },
    faultHandling: {
      host: () => hostCircuitBreaker(),
      global: new RetryUnlessCalledOff(retryWithBackoff()),
    },
    grpcOptions: {
      'grpc.keepalive_time_ms': KEEPALIVE_INTERVAL_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    },
  };
}

/**
 * Connects lazily: no request is made until the first call. Stop every watch on the client
 * before closing it, or etcd3 keeps retrying the watch stream (and the process alive).
 */
export function createEtcdClient(config: EtcdConnectionConfig): Etcd3 {
  return new Etcd3(etcdClientOptions(config));
}
