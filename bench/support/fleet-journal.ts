/**
 * The phases of a launch, read afterwards from each machine's journal of fleet.service:
 * when the engine scheduled, when each agent wrote unit files, reloaded systemd and
 * enqueued start jobs. Journal timestamps are the host's clock (every machine shares its
 * kernel), so they line up with the moment the benchmark issued its command.
 */
import type { Cluster, ClusterMachine } from '../../cluster/index.js';
import { table } from './report.js';

export interface Span {
  count: number;
  /** ms after the command was issued, null when nothing was logged. */
  firstMs: number | null;
  lastMs: number | null;
}

export interface MachinePhases {
  machine: string;
  scheduled: Span;
  written: Span;
  reloads: number[];
  startJobs: Span;
  reconciles: Span;
}

/** fleetd's log lines that mark each phase (fleet's wording, see docs/systemd.md). */
const MARKERS = {
  scheduled: (message: string) => message.startsWith('INFO Scheduled Unit('),
  written: (message: string) => message.startsWith('INFO Writing systemd unit '),
  reload: (message: string) => message.startsWith('INFO Instructing systemd to reload units'),
  startJob: (message: string) =>
    message.startsWith('INFO Triggered systemd unit ') && message.includes(' start: job='),
  reconcile: (message: string) => message.startsWith('DEBUG AgentReconciler completed'),
};

interface Entry {
  atMs: number;
  message: string;
}

async function fleetJournal(
  cluster: Cluster,
  member: ClusterMachine,
  sinceEpochMs: number,
): Promise<Entry[]> {
  const since = Math.floor(sinceEpochMs / 1000) - 1;
  const r = await cluster.exec(
    member,
    [
      'journalctl',
      '--merge',
      '--no-pager',
      '-u',
      'fleet.service',
      `--since=@${since}`,
      '-o',
      'json',
      '--output-fields=MESSAGE',
    ],
    { timeoutMs: 60_000 },
  );
  const entries: Entry[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as { MESSAGE?: unknown; __REALTIME_TIMESTAMP?: string };
    if (typeof record.MESSAGE !== 'string' || record.__REALTIME_TIMESTAMP === undefined) continue;
    const atMs = Number(record.__REALTIME_TIMESTAMP) / 1000 - sinceEpochMs;
    if (atMs >= 0) entries.push({ atMs, message: record.MESSAGE });
  }
  return entries;
}

function span(entries: readonly Entry[], match: (message: string) => boolean): Span {
  const times = entries.filter((entry) => match(entry.message)).map((entry) => entry.atMs);
  return {
    count: times.length,
    firstMs: times.length === 0 ? null : Math.min(...times),
    lastMs: times.length === 0 ? null : Math.max(...times),
  };
}

/** Every live member's phases since `sinceEpochMs`. */
export async function launchPhases(
  cluster: Cluster,
  sinceEpochMs: number,
): Promise<MachinePhases[]> {
  return Promise.all(
    cluster.live().map(async (member) => {
      const entries = await fleetJournal(cluster, member, sinceEpochMs);
      return {
        machine: member.name,
        scheduled: span(entries, MARKERS.scheduled),
        written: span(entries, MARKERS.written),
        reloads: entries
          .filter((entry) => MARKERS.reload(entry.message))
          .map((entry) => entry.atMs),
        startJobs: span(entries, MARKERS.startJob),
        reconciles: span(entries, MARKERS.reconcile),
      };
    }),
  );
}

export function phasesTable(phases: readonly MachinePhases[]): string {
  const at = (ms: number | null) => (ms === null ? '-' : (ms / 1000).toFixed(2));
  const range = (s: Span) =>
    s.count === 0 ? '-' : `${s.count}: ${at(s.firstMs)} – ${at(s.lastMs)} s`;
  // Agent passes are logged at debug only (fleet.conf verbosity 1).
  const passes = phases.some((p) => p.reconciles.count > 0);
  return table(
    [
      'machine',
      'engine scheduled',
      'unit files written',
      'daemon-reloads at (s)',
      'start jobs',
      ...(passes ? ['agent passes'] : []),
    ],
    phases.map((p) => [
      p.machine,
      range(p.scheduled),
      range(p.written),
      p.reloads.length === 0 ? '-' : p.reloads.map(at).join(' '),
      range(p.startJobs),
      ...(passes ? [range(p.reconciles)] : []),
    ]),
  );
}
