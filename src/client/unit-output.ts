import type { IncomingMessage } from 'node:http';
import { errorMessage } from '../error-message.js';
import { type ApiEndpoint, escapePathParameter } from './endpoint.js';
import { googleApiError } from './googleapi-error.js';
import { isUnknownPathAnswer } from './not-served.js';
import type { Transport } from './transport.js';

/**
 * What fleet runs for a unit on its machine (docs/api-v1.md, "Unit status and journal"):
 * `systemctl status -l <unit>`, or `journalctl --unit <unit> --no-pager -n <lines> --output
 * <output> [-f]`. `machine` names one machine, which a global unit needs.
 */
export type UnitOutputRequest =
  | { kind: 'status'; unit: string; machine?: string }
  | {
      kind: 'journal';
      unit: string;
      machine?: string;
      lines: number;
      output: string;
      follow: boolean;
    };

/** Where the command's output goes, byte for byte. */
export interface UnitOutputSink {
  stdout: { write(data: Uint8Array): void };
  stderr: { write(data: Uint8Array): void };
}

/**
 * `served` false: the server answered the original fleet's 404 for an unknown path, so it
 * cannot run the command (an original fleetd, or one without peer certificates).
 */
export type UnitOutputResult = { served: true; exit: number } | { served: false };

/** The stream ended, or broke, before the command's exit status came. */
export class StreamCutError extends Error {
  override name = 'StreamCutError';
}

/** One line of the stream: output of the command, or its exit status (always last). */
type Frame = { stdout: Buffer } | { stderr: Buffer } | { exit: number };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Reads one NDJSON line; anything but the three frames is refused. */
export function parseFrame(line: string): Frame {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new StreamCutError(`invalid line in the stream: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    const [key, data] = entries[0] ?? [];
    if (entries.length === 1 && (key === 'stdout' || key === 'stderr')) {
      if (typeof data === 'string' && data.length % 4 === 0 && BASE64.test(data)) {
        return key === 'stdout'
          ? { stdout: Buffer.from(data, 'base64') }
          : { stderr: Buffer.from(data, 'base64') };
      }
    }
    if (entries.length === 1 && key === 'exit' && Number.isInteger(data)) {
      return { exit: data as number };
    }
  }
  throw new StreamCutError(`unexpected line in the stream: ${JSON.stringify(line.slice(0, 80))}`);
}

/** The request's URL: our extensions sit next to the API root, under `/fleet/ext/v1/`. */
export function unitOutputUrl(endpoint: ApiEndpoint, request: UnitOutputRequest): string {
  const base = endpoint.baseUrl.replace(/fleet\/v1\/$/, 'fleet/ext/v1/');
  const query = new URLSearchParams();
  if (request.kind === 'journal') {
    query.set('lines', String(request.lines));
    query.set('output', request.output);
    if (request.follow) query.set('follow', 'true');
  }
  if (request.machine !== undefined) query.set('machine', request.machine);
  const search = query.size === 0 ? '' : `?${query.toString()}`;
  return `${base}units/${escapePathParameter(request.unit)}/${request.kind}${search}`;
}

/**
 * Asks fleet to run the command and copies its output as it comes. Resolves with its exit
 * status, or `served: false` on the original's 404; throws a GoogleApiError for any other
 * refusal, a StreamCutError when the stream ends early, a TransportError when there is no
 * answer. Aborting `signal` hangs up, which makes fleetd stop the command.
 */
export async function runUnitOutput(
  transport: Transport,
  endpoint: ApiEndpoint,
  request: UnitOutputRequest,
  sink: UnitOutputSink,
  signal: AbortSignal = new AbortController().signal,
): Promise<UnitOutputResult> {
  const response = await transport.stream(unitOutputUrl(endpoint, request), signal);
  if (response.status !== 200) {
    const body = await readAll(response.body);
    if (isUnknownPathAnswer(response.status, body)) return { served: false };
    throw googleApiError(response.status, body);
  }
  try {
    return { served: true, exit: await copyFrames(response.body, sink) };
  } catch (err) {
    if (err instanceof StreamCutError) throw err;
    throw new StreamCutError(errorMessage(response.describe(err as Error)));
  }
}

async function readAll(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes every output frame to the sink; returns the exit status of the last frame. */
async function copyFrames(body: IncomingMessage, sink: UnitOutputSink): Promise<number> {
  let pending = Buffer.alloc(0);
  const handle = (line: string): number | undefined => {
    if (line.trim() === '') return undefined;
    const frame = parseFrame(line);
    if ('exit' in frame) return frame.exit;
    if ('stdout' in frame) sink.stdout.write(frame.stdout);
    else sink.stderr.write(frame.stderr);
    return undefined;
  };
  for await (const chunk of body) {
    pending = Buffer.concat([pending, chunk as Buffer]);
    for (let newline = pending.indexOf(0x0a); newline >= 0; newline = pending.indexOf(0x0a)) {
      const exit = handle(pending.subarray(0, newline).toString('utf8'));
      pending = pending.subarray(newline + 1);
      if (exit !== undefined) {
        body.destroy();
        return exit;
      }
    }
  }
  const exit = handle(pending.toString('utf8'));
  if (exit !== undefined) return exit;
  throw new StreamCutError('the stream from fleet ended before the exit status of the command');
}
