import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { goJsonEncode } from '../../src/go/json-encode.js';
import { type BaseUrl, type RawResponse, sendRaw } from './support/raw-http.js';

/**
 * Replays `test/fixtures/conformance/api-golden.json` (the original fleet's recorded API answers) against
 * a server under test and judges every step by the transcript's rules: placeholders,
 * `repeat`, `waitFor` predicates, the `compare` modes, `alternatives`, normalisation of
 * machine IDs, dates and the server version, and `optional` steps reported as warnings.
 */

export const GOLDEN_TRANSCRIPT = fileURLToPath(
  new URL('../fixtures/conformance/api-golden.json', import.meta.url),
);

const recordedResponseSchema = z.object({
  status: z.number(),
  contentType: z.string().nullable(),
  server: z.string().nullable(),
  location: z.string().optional(),
  body: z.string().nullable(),
});
type RecordedResponse = z.infer<typeof recordedResponseSchema>;

const requestSchema = z.object({
  method: z.string(),
  path: z.string(),
  headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
  body: z.string().optional(),
});
type RecordedRequest = z.infer<typeof requestSchema>;

// `equals` last: its value may be anything, so it would also accept the other shapes.
const predicateSchema = z.union([
  z.object({ bodyEquals: z.string() }),
  z.object({ path: z.string(), length: z.number() }),
  z.object({ path: z.string(), all: z.record(z.string(), z.unknown()) }),
  z.object({ path: z.string(), equals: z.unknown() }),
]);
type Predicate = z.infer<typeof predicateSchema>;

const requestStepSchema = z.object({
  id: z.string(),
  note: z.string().optional(),
  optional: z.boolean().optional(),
  compare: z.union([z.literal('status'), z.object({ messagePrefix: z.string() })]).optional(),
  sortArrays: z.record(z.string(), z.array(z.string())).optional(),
  anyMachine: z.boolean().optional(),
  requiresEtcd: z.boolean().optional(),
  repeat: z
    .object({ var: z.string(), from: z.number(), to: z.number(), pad: z.number() })
    .optional(),
  request: requestSchema,
  response: recordedResponseSchema,
  alternatives: z.array(recordedResponseSchema).optional(),
});
type RequestStep = z.infer<typeof requestStepSchema>;

const waitStepSchema = z.object({
  id: z.string(),
  requiresEtcd: z.boolean().optional(),
  waitFor: z.object({
    request: requestSchema,
    until: z.array(predicateSchema),
    timeoutMs: z.number(),
  }),
});
type WaitStep = z.infer<typeof waitStepSchema>;

const etcdStepSchema = z.object({
  id: z.string(),
  requiresEtcd: z.literal(true),
  etcd: z.object({ method: z.string(), key: z.string(), value: z.string() }),
});

const transcriptSchema = z.object({
  meta: z.object({ machines: z.record(z.string(), z.string()), server: z.string() }),
  steps: z.array(z.union([requestStepSchema, waitStepSchema, etcdStepSchema])),
});
type Transcript = z.infer<typeof transcriptSchema>;

/**
 * Where our product answers differently on purpose (docs/api-v1.md, "Deviations"): the
 * answer we give instead of the recorded one.
 */
export const OUR_DEVIATIONS: Readonly<Record<string, RecordedResponse>> = {
  // fleet answered 500 and wrote nothing; we say why.
  'units-put-create-invalid-desired-state': {
    status: 400,
    contentType: 'application/json',
    server: 'fleetd/<any>',
    body: '{"error":{"code":400,"message":"invalid value \\"running\\" for JobState"}}',
  },
};

export type Outcome = 'pass' | 'deviation' | 'warn' | 'fail' | 'skip';

export interface StepResult {
  id: string;
  outcome: Outcome;
  /** What differed, or why the step was skipped. */
  detail: string;
}

export interface ReplayOptions {
  baseUrl: BaseUrl;
  /** Metadata `name` (r1, r2, r3) to the ID of that machine in the cluster under test. */
  machines: Readonly<Record<string, string>>;
  transcriptPath?: string;
  /** Caps every `waitFor` timeout: for runs where some waits cannot converge. */
  maxWaitMs?: number;
  pollIntervalMs?: number;
  deviations?: Readonly<Record<string, RecordedResponse>>;
  onStep?: (result: StepResult) => void;
}

export async function loadTranscript(path = GOLDEN_TRANSCRIPT): Promise<Transcript> {
  return transcriptSchema.parse(JSON.parse(await readFile(path, 'utf8')));
}

export async function replayGolden(options: ReplayOptions): Promise<StepResult[]> {
  const transcript = await loadTranscript(options.transcriptPath);
  const replay = new Replay(transcript, options);
  const results: StepResult[] = [];
  for (const step of transcript.steps) {
    const result = await replay.run(step);
    results.push(result);
    options.onStep?.(result);
  }
  return results;
}

/**
 * The machine map of a cluster under test, read from its API: the transcript names machines
 * by their metadata `name` (r1, r2, r3), so the cluster must set it the same way.
 */
export async function machinesByName(baseUrl: BaseUrl): Promise<Record<string, string>> {
  const response = await sendRaw(baseUrl, { method: 'GET', path: '/fleet/v1/machines' });
  const page = z
    .object({
      machines: z
        .array(z.object({ id: z.string(), metadata: z.record(z.string(), z.string()).optional() }))
        .optional(),
    })
    .parse(JSON.parse(response.body));
  const byName: Record<string, string> = {};
  for (const machine of page.machines ?? []) {
    const name = machine.metadata?.name;
    if (name !== undefined) byName[name] = machine.id;
  }
  return byName;
}

/** One line per step that did not simply pass, for test failures and logs. */
export function formatReport(results: readonly StepResult[]): string {
  const counts = new Map<Outcome, number>();
  for (const { outcome } of results) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  const summary = [...counts].map(([outcome, count]) => `${outcome} ${count}`).join(', ');
  const lines = results
    .filter((result) => result.outcome !== 'pass')
    .map((result) => `${result.outcome.toUpperCase()} ${result.id}: ${result.detail}`);
  return [summary, ...lines].join('\n');
}

class Replay {
  /** Recorded machine IDs and ours, each to its `<machine:rN>` form. */
  private readonly recordedIds: Map<string, string>;
  private readonly ourIds: Map<string, string>;
  private readonly deviations: Readonly<Record<string, RecordedResponse>>;

  constructor(
    transcript: Transcript,
    private readonly options: ReplayOptions,
  ) {
    this.recordedIds = new Map(
      Object.entries(transcript.meta.machines).map(([id, name]) => [id, `<machine:${name}>`]),
    );
    this.ourIds = new Map(
      Object.entries(options.machines).map(([name, id]) => [id, `<machine:${name}>`]),
    );
    this.deviations = options.deviations ?? OUR_DEVIATIONS;
  }

  async run(step: Transcript['steps'][number]): Promise<StepResult> {
    if (step.requiresEtcd === true) {
      return {
        id: step.id,
        outcome: 'skip',
        detail: 'needs a raw etcd v2 write; we refuse the bogus desired state with 400 instead',
      };
    }
    return 'waitFor' in step ? this.waitFor(step) : this.request(step);
  }

  private async request(step: RequestStep): Promise<StepResult> {
    const values = step.repeat
      ? range(step.repeat.from, step.repeat.to).map((i) =>
          String(i).padStart(step.repeat?.pad ?? 0, '0'),
        )
      : [undefined];
    for (const value of values) {
      const vars =
        value === undefined || step.repeat === undefined ? {} : { [step.repeat.var]: value };
      let actual: RawResponse;
      try {
        actual = await this.send(step.request, vars);
      } catch (err) {
        return this.judge(step, `request failed: ${(err as Error).message}`);
      }
      const mismatch = this.mismatch(step, actual);
      if (mismatch !== null) {
        return this.judge(
          step,
          value === undefined ? mismatch : `${step.repeat?.var}=${value}: ${mismatch}`,
        );
      }
    }
    const deviation = this.deviations[step.id];
    return deviation === undefined
      ? { id: step.id, outcome: 'pass', detail: '' }
      : { id: step.id, outcome: 'deviation', detail: `answered ${deviation.status} as documented` };
  }

  private judge(step: RequestStep, mismatch: string): StepResult {
    return { id: step.id, outcome: step.optional === true ? 'warn' : 'fail', detail: mismatch };
  }

  /** Null when the answer is acceptable for the step, else what differed. */
  private mismatch(step: RequestStep, actual: RawResponse): string | null {
    const deviation = this.deviations[step.id];
    const accepted =
      deviation !== undefined ? [deviation] : [step.response, ...(step.alternatives ?? [])];
    const problems = accepted.map((expected) => this.compare(step, expected, actual));
    if (problems.includes(null)) return null;
    return problems[0] ?? 'no acceptable answer';
  }

  private compare(
    step: RequestStep,
    expected: RecordedResponse,
    actual: RawResponse,
  ): string | null {
    if (actual.status !== expected.status) {
      return `status ${actual.status}, expected ${expected.status} (body ${JSON.stringify(actual.body)})`;
    }
    if (step.compare === 'status') return null;
    const contentType = headerOf(actual, 'content-type');
    if (contentType !== expected.contentType) {
      return `Content-Type ${JSON.stringify(contentType)}, expected ${JSON.stringify(expected.contentType)}`;
    }
    const server = normaliseServer(headerOf(actual, 'server'));
    if (server !== normaliseServer(expected.server)) {
      return `Server ${JSON.stringify(headerOf(actual, 'server'))}, expected ${JSON.stringify(expected.server)}`;
    }
    if (expected.location !== undefined && headerOf(actual, 'location') !== expected.location) {
      return `Location ${JSON.stringify(headerOf(actual, 'location'))}, expected ${JSON.stringify(expected.location)}`;
    }
    if (typeof step.compare === 'object') {
      return errorEntityMismatch(actual.body, expected.status, step.compare.messagePrefix);
    }
    return this.bodyMismatch(step, expected.body ?? '', actual.body);
  }

  private bodyMismatch(step: RequestStep, recorded: string, body: string): string | null {
    let expected = normaliseText(recorded, this.recordedIds);
    let actual = normaliseText(body, this.ourIds);
    if (step.anyMachine === true) {
      expected = expected.replace(/<machine:[^>]+>/g, '<machine:*>');
      actual = actual.replace(/<machine:[^>]+>/g, '<machine:*>');
    }
    if (step.sortArrays !== undefined) {
      const canonical = canonicalOrNull(body);
      if (canonical !== body) return `body is not compact Go-encoded JSON: ${body}`;
      expected = sortedJson(expected, step.sortArrays);
      actual = sortedJson(actual, step.sortArrays);
    }
    return actual === expected ? null : describeDifference(actual, expected);
  }

  private async waitFor(step: WaitStep): Promise<StepResult> {
    const { request, until, timeoutMs } = step.waitFor;
    const limit = Math.min(timeoutMs, this.options.maxWaitMs ?? timeoutMs);
    const deadline = Date.now() + limit;
    let last = '';
    for (;;) {
      try {
        const response = await this.send(request, {});
        last = response.body;
        if (until.every((predicate) => holds(predicate, response.body))) {
          return { id: step.id, outcome: 'pass', detail: '' };
        }
      } catch (err) {
        last = `request failed: ${(err as Error).message}`;
      }
      if (Date.now() >= deadline) break;
      await sleep(this.options.pollIntervalMs ?? 500);
    }
    return {
      id: step.id,
      outcome: 'fail',
      detail: `not converged within ${limit} ms (${JSON.stringify(until)}); last body ${last}`,
    };
  }

  private send(
    request: RecordedRequest,
    vars: Readonly<Record<string, string>>,
  ): Promise<RawResponse> {
    const fill = (text: string) => this.fillPlaceholders(text, vars);
    const headers = Object.fromEntries(
      Object.entries(request.headers ?? {}).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.map(fill) : fill(value),
      ]),
    );
    return sendRaw(this.options.baseUrl, {
      method: request.method,
      path: fill(request.path),
      headers,
      ...(request.body !== undefined && { body: fill(request.body) }),
    });
  }

  private fillPlaceholders(text: string, vars: Readonly<Record<string, string>>): string {
    return text.replace(
      /\{\{(machine|machineShort):([^}]+)\}\}|\{\{([^}:]+)\}\}/g,
      (whole, kind, name, variable) => {
        if (variable !== undefined) return vars[variable] ?? whole;
        const id = this.options.machines[name as string];
        if (id === undefined) throw new Error(`no machine named ${name} in the cluster under test`);
        return kind === 'machineShort' ? id.slice(0, 8) : id;
      },
    );
  }
}

/** Where two bodies first differ, with some context: whole bodies can be 30 kB. */
function describeDifference(actual: string, expected: string): string {
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at++;
  const around = (text: string) =>
    `${at > 60 ? '…' : ''}${text.slice(Math.max(0, at - 60), at + 60)}${text.length > at + 60 ? '…' : ''}`;
  return `body differs at character ${at}: got ${around(actual)} expected ${around(expected)}`;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

function headerOf(response: RawResponse, name: string): string | null {
  const value = response.headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

function normaliseServer(server: string | null): string | null {
  return server === null ? null : server.replace(/^fleetd\/.*$/, 'fleetd/<version>');
}

const RFC3339 = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g;

function normaliseText(text: string, ids: ReadonlyMap<string, string>): string {
  let out = text.replace(RFC3339, '<date>');
  for (const [id, placeholder] of ids) out = out.split(id).join(placeholder);
  return out;
}

function canonicalOrNull(body: string): string | null {
  try {
    return goJsonEncode(JSON.parse(body));
  } catch {
    return null;
  }
}

/** Re-encodes a body with the named arrays sorted by the given fields. */
function sortedJson(body: string, sortArrays: Readonly<Record<string, readonly string[]>>): string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return body;
  }
  if (typeof value !== 'object' || value === null) return body;
  const object = value as Record<string, unknown>;
  for (const [key, fields] of Object.entries(sortArrays)) {
    const items = object[key];
    if (!Array.isArray(items)) continue;
    object[key] = [...items].sort((a, b) => {
      for (const field of fields) {
        const left = String((a as Record<string, unknown>)[field]);
        const right = String((b as Record<string, unknown>)[field]);
        if (left !== right) return left < right ? -1 : 1;
      }
      return 0;
    });
  }
  return goJsonEncode(object);
}

function errorEntityMismatch(body: string, status: number, prefix: string): string | null {
  const entity = z
    .object({ error: z.object({ code: z.number(), message: z.string() }).strict() })
    .strict()
    .safeParse(canonicalOrNull(body) === body ? JSON.parse(body) : undefined);
  if (!entity.success) return `body is not an error entity: ${body}`;
  if (entity.data.error.code !== status)
    return `error code ${entity.data.error.code}, expected ${status}`;
  if (!entity.data.error.message.startsWith(prefix)) {
    return `message ${JSON.stringify(entity.data.error.message)} does not start with ${JSON.stringify(prefix)}`;
  }
  return null;
}

function holds(predicate: Predicate, body: string): boolean {
  if ('bodyEquals' in predicate) return body === predicate.bodyEquals;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return false;
  }
  const value = valueAt(json, predicate.path);
  if ('length' in predicate) return Array.isArray(value) && value.length === predicate.length;
  if ('all' in predicate) {
    return (
      Array.isArray(value) &&
      value.every((item) =>
        Object.entries(predicate.all).every(([field, expected]) =>
          isDeepStrictEqual((item as Record<string, unknown>)?.[field], expected),
        ),
      )
    );
  }
  return isDeepStrictEqual(value, predicate.equals);
}

/** A dotted path (`states.0.systemdActiveState`) into parsed JSON. */
function valueAt(json: unknown, path: string): unknown {
  let value = json;
  for (const segment of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}
