import { request } from 'node:http';
import type { EtcdCluster } from './etcd.js';

/** One scrape of etcd's Prometheus endpoint: series (name plus labels, as printed) → value. */
export type MetricsSample = ReadonlyMap<string, number>;

/** Fetches `<clientUrl>/metrics` (served on the client URL by default, `--metrics=basic`). */
export function scrapeMetrics(clientUrl: string): Promise<MetricsSample> {
  const url = new URL('/metrics', clientUrl);
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve(parseMetrics(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export function parseMetrics(text: string): MetricsSample {
  const sample = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) sample.set(line.slice(0, space), value);
  }
  return sample;
}

/** The value of a label in a series as printed (`name{a="x",b="y"}`). */
export function labelOf(series: string, label: string): string | undefined {
  return new RegExp(`[{,]${label}="([^"]*)"`).exec(series)?.[1];
}

async function scrapeAll(cluster: EtcdCluster): Promise<MetricsSample[]> {
  return Promise.all(cluster.endpoints.map((endpoint) => scrapeMetrics(endpoint)));
}

/** Watchers that every member of the cluster serves right now. */
export async function watcherCount(cluster: EtcdCluster): Promise<number> {
  const samples = await scrapeAll(cluster);
  return samples.reduce(
    (sum, sample) => sum + (sample.get('etcd_debugging_mvcc_watcher_total') ?? 0),
    0,
  );
}

/** Unary gRPC calls every member has answered so far, by method (`Txn`, `Range`, …). */
export async function unaryCalls(cluster: EtcdCluster): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const sample of await scrapeAll(cluster)) {
    for (const [series, value] of sample) {
      if (!series.startsWith('grpc_server_handled_total{')) continue;
      if (labelOf(series, 'grpc_type') !== 'unary') continue;
      const method = labelOf(series, 'grpc_method');
      if (method !== undefined) calls.set(method, (calls.get(method) ?? 0) + value);
    }
  }
  return calls;
}
