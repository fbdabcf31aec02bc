import type { EtcdConnectionConfig } from '../../src/registry/etcd-client.js';

/** One simulated machine a worker hosts. */
export interface MachineSpec {
  id: string;
  /** False sets `disable_engine`: the fleetd runs presence and agent only. */
  engine: boolean;
}

export interface WorkerInit {
  type: 'init';
  etcd: EtcdConnectionConfig;
  prefix: string;
  /** fleet.conf values, as text (`agent_ttl`, `engine_reconcile_interval`). */
  agentTtl: string;
  engineReconcileInterval: string;
  machines: MachineSpec[];
  /** pino level for every fleetd of the worker; lines go to `logFile`. */
  logLevel: string;
  logFile: string;
  /** One etcd client per fleetd (as real hosts have) or one shared by the whole worker. */
  sharedClient: boolean;
}

/** Coordinator → worker. */
export type WorkerCommand =
  | WorkerInit
  | { type: 'start' }
  | { type: 'stop'; ids: string[] }
  | { type: 'stats' }
  | { type: 'shutdown' };

export interface WorkerStats {
  /** Event-loop delay since the last stats request, milliseconds. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  heapUsedBytes: number;
  rssBytes: number;
  /** Log lines at warn or above since start (they are in the worker's log file). */
  warnings: number;
  /** Units the worker's fake unit managers run right now. */
  running: number;
}

/** Worker → coordinator. */
export type WorkerReport =
  | { type: 'ready' }
  | { type: 'started'; elapsedMs: number; failed: number }
  | { type: 'stopped'; elapsedMs: number }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'shutdown-done' }
  | { type: 'error'; message: string };
