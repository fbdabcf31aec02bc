import { errorText } from './event-stream.js';

export interface Cordon {
  id: string;
  present: boolean;
  cordoned: boolean;
  drain: { moving: string[]; moved: string[]; done: boolean } | null;
}

export interface Rollout {
  id: string;
  status: string;
  units: { name: string }[];
  steps: { unit: string; machineID: string; phase: string }[];
  message?: string;
}

export type UnitAction = 'start' | 'stop' | 'unload' | 'destroy';
export type MachineAction = 'cordon' | 'drain' | 'uncordon';

/** The desired state fleetctl's command of the same name sets. */
const UNIT_TARGETS: Readonly<Record<Exclude<UnitAction, 'destroy'>, string>> = {
  start: 'launched',
  stop: 'loaded',
  unload: 'inactive',
};

/** A call to this fleetd with the token; throws fleet's error message on a failure. */
async function call(token: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${token}`);
  const response = await fetch(path, { ...init, headers, cache: 'no-store' });
  if (!response.ok) throw new Error(await errorText(response));
  return response;
}

export async function listCordons(token: string): Promise<Cordon[]> {
  const response = await call(token, '/fleet/ext/v1/machines');
  return ((await response.json()) as { machines: Cordon[] }).machines;
}

export async function listRollouts(token: string): Promise<Rollout[]> {
  const response = await call(token, '/fleet/ext/v1/rollouts');
  return ((await response.json()) as { rollouts: Rollout[] }).rollouts;
}

export async function actOnUnit(token: string, name: string, action: UnitAction): Promise<void> {
  const path = `/fleet/v1/units/${encodeURIComponent(name)}`;
  if (action === 'destroy') {
    await call(token, path, { method: 'DELETE' });
    return;
  }
  await call(token, path, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ desiredState: UNIT_TARGETS[action] }),
  });
}

export async function actOnMachine(
  token: string,
  id: string,
  action: MachineAction,
): Promise<void> {
  const base = `/fleet/ext/v1/machines/${encodeURIComponent(id)}`;
  if (action === 'drain') await call(token, `${base}/drain`, { method: 'POST' });
  else await call(token, `${base}/cordon`, { method: action === 'cordon' ? 'PUT' : 'DELETE' });
}

/**
 * Streams a unit's status or journal (NDJSON frames of base64 output) into `onText` until the
 * command exits or `signal` aborts.
 */
export async function readReport(
  token: string,
  path: string,
  signal: AbortSignal,
  onText: (text: string) => void,
): Promise<void> {
  const response = await call(token, path, { signal });
  if (response.body === null) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += value;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const frame = JSON.parse(line) as { stdout?: string; stderr?: string };
      const data = frame.stdout ?? frame.stderr;
      if (data === undefined) continue;
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      onText(decoder.decode(bytes, { stream: true }));
    }
  }
}
