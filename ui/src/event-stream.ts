import {
  applyLine,
  type ClusterView,
  emptyView,
  parseEventLine,
  ResumePoint,
} from './cluster-view.js';

export type Connection =
  | { kind: 'connecting' }
  | { kind: 'live' }
  | { kind: 'lost'; reason: string; retryInSeconds: number }
  | { kind: 'refused'; reason: string };

export interface StreamCallbacks {
  /** `changed` holds `<type>:<name>` of every object a batch of lines touched. */
  onView: (view: ClusterView, changed: ReadonlySet<string>) => void;
  onConnection: (connection: Connection) => void;
}

/** The stream's heartbeat comes every 15 s: this long without a byte means a dead link. */
const SILENCE_MS = 45_000;
const MAX_RETRY_SECONDS = 10;

/**
 * Follows `/fleet/ext/v1/events` with the token until stopped: after a drop it waits a little
 * and resumes after the last revision it saw whole, so nothing is missed; a 401 or 403 stops
 * it, since retrying with the same token cannot help.
 */
export function followEvents(token: string, callbacks: StreamCallbacks): () => void {
  let view = emptyView();
  const resume = new ResumePoint();
  let stopped = false;
  let controller = new AbortController();
  let failures = 0;

  const connect = async (): Promise<void> => {
    controller = new AbortController();
    callbacks.onConnection({ kind: 'connecting' });
    const query = resume.since === null ? '' : `?since=${resume.since}`;
    let silence: ReturnType<typeof setTimeout> | undefined;
    const watch = () => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), SILENCE_MS);
    };
    try {
      watch();
      const response = await fetch(`/fleet/ext/v1/events${query}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: controller.signal,
        cache: 'no-store',
      });
      if (response.status === 401 || response.status === 403) {
        stopped = true;
        callbacks.onConnection({ kind: 'refused', reason: await errorText(response) });
        return;
      }
      if (!response.ok || response.body === null) {
        throw new Error(`fleetd answered ${response.status}`);
      }
      callbacks.onConnection({ kind: 'live' });
      failures = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        watch();
        pending += value;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        const changed = new Set<string>();
        for (const text of lines) {
          const line = parseEventLine(text);
          if (line === null) continue;
          resume.see(line);
          view = applyLine(view, line);
          changed.add(`${line.type}:${line.name ?? ''}`);
        }
        if (changed.size > 0) callbacks.onView(view, changed);
      }
      throw new Error('fleetd ended the stream');
    } catch (err) {
      if (stopped) return;
      failures += 1;
      const retryInSeconds = Math.min(MAX_RETRY_SECONDS, failures);
      callbacks.onConnection({ kind: 'lost', reason: describe(err), retryInSeconds });
      setTimeout(() => {
        if (!stopped) void connect();
      }, retryInSeconds * 1000);
    } finally {
      clearTimeout(silence);
    }
  };

  void connect();
  return () => {
    stopped = true;
    controller.abort();
  };
}

/** fleet's error body's message, or the status line. */
export async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { error?: { message?: string } }).error?.message;
    if (message) return `${response.status}: ${message}`;
  } catch {
    // Not fleet's JSON error body: the status says enough.
  }
  return `${response.status} ${response.statusText}`.trim();
}

function describe(err: unknown): string {
  if (err instanceof DOMException && err.name === 'AbortError') return 'no heartbeat from fleetd';
  return err instanceof Error ? err.message : String(err);
}
