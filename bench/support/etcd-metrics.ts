import { labelOf, type MetricsSample } from '../../test/support/etcd-metrics.js';

export { type MetricsSample, scrapeMetrics } from '../../test/support/etcd-metrics.js';

/** The value of one unlabelled series, 0 when absent. */
export function seriesValue(sample: MetricsSample, name: string): number {
  return sample.get(name) ?? 0;
}

/** Counter increase between two scrapes. */
export function increase(before: MetricsSample, after: MetricsSample, name: string): number {
  return seriesValue(after, name) - seriesValue(before, name);
}

/**
 * Calls handled per gRPC method between two scrapes: unary calls from
 * `grpc_server_handled_total` (every status code), stream messages received from
 * `grpc_server_msg_received_total` (a Watch message is a create or cancel request, a
 * LeaseKeepAlive message one renewal).
 */
export interface GrpcCalls {
  unary: Map<string, number>;
  streamMessages: Map<string, number>;
  streamsOpened: Map<string, number>;
}

export function grpcCalls(before: MetricsSample, after: MetricsSample): GrpcCalls {
  const unary = new Map<string, number>();
  const streamMessages = new Map<string, number>();
  const streamsOpened = new Map<string, number>();
  const add = (into: Map<string, number>, method: string, delta: number) => {
    if (delta !== 0) into.set(method, (into.get(method) ?? 0) + delta);
  };
  for (const [series, value] of after) {
    const delta = value - (before.get(series) ?? 0);
    const method = labelOf(series, 'grpc_method');
    if (method === undefined || delta === 0) continue;
    const type = labelOf(series, 'grpc_type');
    if (series.startsWith('grpc_server_handled_total{') && type === 'unary') {
      add(unary, method, delta);
    } else if (series.startsWith('grpc_server_msg_received_total{') && type !== 'unary') {
      add(streamMessages, method, delta);
    } else if (series.startsWith('grpc_server_started_total{') && type !== 'unary') {
      add(streamsOpened, method, delta);
    }
  }
  return { unary, streamMessages, streamsOpened };
}

/** Unary calls that did not end OK, by method and code: timeouts and refusals show here. */
export function grpcFailures(before: MetricsSample, after: MetricsSample): Map<string, number> {
  const failures = new Map<string, number>();
  for (const [series, value] of after) {
    if (!series.startsWith('grpc_server_handled_total{')) continue;
    const code = labelOf(series, 'grpc_code');
    const delta = value - (before.get(series) ?? 0);
    if (code === undefined || code === 'OK' || delta === 0) continue;
    const key = `${labelOf(series, 'grpc_method')}/${code}`;
    failures.set(key, (failures.get(key) ?? 0) + delta);
  }
  return failures;
}

/** The etcd-side counters a phase report shows, as increases between two scrapes. */
export interface StoreCounters {
  /** Keys written (each put inside a transaction counts). */
  puts: number;
  deletes: number;
  /** Read-only and read-write transactions (etcd counts every request as one). */
  txns: number;
  ranges: number;
  /** Watch events etcd sent to watchers: one change seen by N watchers counts N times. */
  watchEvents: number;
  leaseGrants: number;
  leaseRenewals: number;
  leaseRevokes: number;
  leasesExpired: number;
  bytesSent: number;
  bytesReceived: number;
}

export function storeCounters(before: MetricsSample, after: MetricsSample): StoreCounters {
  const d = (name: string) => increase(before, after, name);
  return {
    puts: d('etcd_mvcc_put_total'),
    deletes: d('etcd_mvcc_delete_total'),
    txns: d('etcd_mvcc_txn_total'),
    ranges: d('etcd_mvcc_range_total'),
    watchEvents: d('etcd_debugging_mvcc_events_total'),
    leaseGrants: d('etcd_debugging_lease_granted_total'),
    leaseRenewals: d('etcd_debugging_lease_renewed_total'),
    leaseRevokes: d('etcd_debugging_lease_revoked_total'),
    leasesExpired: d('etcd_debugging_server_lease_expired_total'),
    bytesSent: d('etcd_network_client_grpc_sent_bytes_total'),
    bytesReceived: d('etcd_network_client_grpc_received_bytes_total'),
  };
}

/** Gauges worth printing as they are at one moment. */
export function watchGauges(sample: MetricsSample): { streams: number; watchers: number } {
  return {
    streams: seriesValue(sample, 'etcd_debugging_mvcc_watch_stream_total'),
    watchers: seriesValue(sample, 'etcd_debugging_mvcc_watcher_total'),
  };
}
