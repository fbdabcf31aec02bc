import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OUR_COMMAND_NAMES } from '../../src/fleetctl/args/specs.js';

/**
 * Replays the original fleetctl's recorded transcript (`fleetctl-golden.json` in
 * test/fixtures/conformance/) against a fleetctl command line and a cluster, with the
 * normalisations its README describes. The cluster comes from elsewhere (real agents on systemd);
 * this runner only drives fleetctl, polls the API for `waitFor` steps, and compares.
 */

export const CONFORMANCE_DIR = join(import.meta.dirname, '../fixtures/conformance');
export const GOLDEN_PATH = join(CONFORMANCE_DIR, 'fleetctl-golden.json');
export const UNITS_DIR = join(CONFORMANCE_DIR, 'units');

export interface RecordedResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type Predicate =
  | { bodyEquals: string }
  | { path: string; equals: unknown }
  | { path: string; length: number }
  | { path: string; all: Record<string, unknown> };

export interface WaitFor {
  request: { method: string; path: string };
  until: Predicate[];
  timeoutMs: number;
}

export interface GoldenStep {
  id: string;
  note?: string;
  argv?: string[];
  argvBeforePrefix?: boolean;
  env?: Record<string, string | null>;
  machines?: 'named' | 'anonymous';
  sortLines?: 'stdout';
  stripUnitLegend?: boolean;
  timeoutMs?: number;
  compare?: { stderrPrefix?: string };
  result?: RecordedResult;
  waitFor?: WaitFor;
}

export interface Golden {
  meta: { machines: Record<string, string>; fleetctl: string };
  steps: GoldenStep[];
}

export function loadGolden(path = GOLDEN_PATH): Golden {
  return JSON.parse(readFileSync(path, 'utf8')) as Golden;
}

/** machine ID → metadata `name` (r1, r2, r3), for the recorded or the tested cluster. */
export type MachineNames = Readonly<Record<string, string>>;

/** `{{machine:r3}}` and `{{machineShort:r3}}` → the tested cluster's IDs. */
export function substitutePlaceholders(text: string, machines: MachineNames): string {
  return text.replace(/\{\{(machine|machineShort):([^}]+)\}\}/g, (match, kind, name) => {
    const id = Object.keys(machines).find((candidate) => machines[candidate] === name);
    if (id === undefined) throw new Error(`no machine named ${name} for ${match}`);
    return kind === 'machine' ? id : id.slice(0, 8);
  });
}

/**
 * The steps that print the root help, whose COMMANDS listing now holds our commands too
 * (docs/fleetctl.md, "Differences from the recorded transcript").
 */
export const ROOT_HELP_STEPS: ReadonlySet<string> = new Set([
  'help',
  'help-flag',
  'version-flag-not-first',
]);

/** The root help without the lines of our own commands: what fleet printed. */
export function withoutOurCommands(help: string): string {
  const ours = new Set(OUR_COMMAND_NAMES);
  return help
    .split('\n')
    .filter((line) => !ours.has(/^\t([^\t]+)\t/.exec(line)?.[1] ?? ''))
    .join('\n');
}

/** What is wrong with a result that deviates from the recording on purpose; null when right. */
export type Deviation = (actual: RecordedResult) => string | null;

/**
 * Steps whose recorded result `status` and `journal` through fleet change on purpose
 * (docs/fleetctl.md, "Differences from the recorded transcript"): with no ssh-agent, the
 * original could only fail to SSH; a cluster of ours whose fleetds have peer certificates
 * runs the command. Only for such a cluster: one without gives the recorded SSH error.
 */
export const THROUGH_FLEET_DEVIATIONS: Readonly<Record<string, Deviation>> = {
  'status-remote-unit': (actual) => {
    const problems: string[] = [];
    if (actual.exitCode !== 0) problems.push(`exit code ${actual.exitCode}, expected 0`);
    if (!actual.stdout.includes('hello.service'))
      problems.push('stdout does not name hello.service');
    if (!/Active: active \(running\)/.test(actual.stdout)) {
      problems.push('stdout does not show "Active: active (running)"');
    }
    if (actual.stderr !== '')
      problems.push(`stderr ${JSON.stringify(actual.stderr)}, expected none`);
    return problems.length === 0
      ? null
      : `${problems.join('; ')}\n  stdout ${JSON.stringify(actual.stdout)}`;
  },
};

/** The normalisations of the transcripts' README, applied alike to recorded and actual output. */
export function normalise(
  text: string,
  step: GoldenStep,
  machines: MachineNames,
  stream: 'stdout' | 'stderr',
): string {
  let out = text
    .replace(/fleetctl version \S+/g, 'fleetctl version <version>')
    .replace(/^VERSION:\n\t\S+$/gm, 'VERSION:\n\t<version>')
    .replace(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} (\S+) (\S+?): /gm, '<time> $1 <src>: ');
  const anonymous = step.machines === 'anonymous';
  for (const [id, name] of Object.entries(machines)) {
    out = out.replaceAll(id, `<machine:${anonymous ? '*' : name}>`);
  }
  for (const [id, name] of Object.entries(machines)) {
    out = out.replaceAll(id.slice(0, 8), `<short:${anonymous ? '*' : name}>`);
  }
  if (stream === 'stdout' && ROOT_HELP_STEPS.has(step.id)) out = withoutOurCommands(out);
  if (stream === 'stdout' && step.stripUnitLegend === true) {
    out = out.replace(/^(Unit \S+ \S*) on \S+$/gm, '$1');
  }
  if (stream === 'stdout' && step.sortLines === 'stdout') {
    const lines = out.split('\n');
    const last = lines.pop();
    out = [...lines.sort(), last].join('\n');
  }
  return out;
}

/** What differs between the recorded and the actual result, or null when they agree. */
export function compareResult(
  step: GoldenStep,
  actual: RecordedResult,
  recordedMachines: MachineNames,
  testedMachines: MachineNames,
): string | null {
  const expected = step.result;
  if (expected === undefined) return null;
  const problems: string[] = [];
  if (actual.exitCode !== expected.exitCode) {
    problems.push(`exit code ${actual.exitCode}, recorded ${expected.exitCode}`);
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const want = normalise(expected[stream], step, recordedMachines, stream);
    const got = normalise(actual[stream], step, testedMachines, stream);
    const prefix = stream === 'stderr' ? step.compare?.stderrPrefix : undefined;
    const same = prefix === undefined ? got === want : got.startsWith(prefix);
    if (!same)
      problems.push(
        `${stream}:\n  recorded ${JSON.stringify(want)}\n  actual   ${JSON.stringify(got)}`,
      );
  }
  return problems.length === 0 ? null : problems.join('\n');
}

/** Shell-style splitting of the fleetctl command line (quotes and backslashes). */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let current: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote !== null) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) current += line[++i]!;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current ??= '';
    } else if (ch === '\\' && i + 1 < line.length) {
      current = (current ?? '') + line[++i]!;
    } else if (/\s/.test(ch)) {
      if (current !== null) words.push(current);
      current = null;
    } else {
      current = (current ?? '') + ch;
    }
  }
  if (current !== null) words.push(current);
  return words;
}

/**
 * The full command line of a step: the program, then the prefix's global flags and the
 * step's arguments, in the order the step asks for (`argvBeforePrefix` puts `--version`
 * first, the only place fleetctl honours it).
 */
export function stepCommand(fleetctl: string, step: GoldenStep, machines: MachineNames): string[] {
  const words = splitCommandLine(fleetctl);
  const flagsAt = words.findIndex((word) => word.startsWith('-'));
  const program = flagsAt < 0 ? words : words.slice(0, flagsAt);
  const prefix = flagsAt < 0 ? [] : words.slice(flagsAt);
  const argv = (step.argv ?? []).map((arg) => substitutePlaceholders(arg, machines));
  return step.argvBeforePrefix === true
    ? [...program, ...argv, ...prefix]
    : [...program, ...prefix, ...argv];
}

export interface ReplayOptions {
  /** The fleetctl program and its global flags, e.g. `node bin/fleetctl --endpoint http://…`. */
  fleetctl: string;
  /** The tested cluster's machine IDs → metadata `name`. */
  machines: MachineNames;
  /** The API for `waitFor` steps (`http://host:port` or `unix:///path`); default: `--endpoint`. */
  api?: string;
  /** Which steps to run; default all. */
  only?: (step: GoldenStep) => boolean;
  golden?: Golden;
  unitsDir?: string;
  /** Extra environment for every step (before the step's own). */
  env?: Record<string, string>;
  defaultTimeoutMs?: number;
  onStep?: (outcome: StepOutcome) => void;
  /** Runs one command line; default: spawns it. In-process tests pass their own. */
  run?: StepRunner;
  /** Settles `waitFor` steps; default: polls the API. A fake cluster settles at once. */
  settle?: (wait: WaitFor) => Promise<void>;
  /** Steps checked by these instead of against the recording (THROUGH_FLEET_DEVIATIONS). */
  deviations?: Readonly<Record<string, Deviation>>;
}

/** One invocation: the full command line (program first), its environment and directory. */
export type StepRunner = (
  command: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs: number,
) => Promise<RecordedResult>;

export interface StepOutcome {
  id: string;
  passed: boolean;
  /** Checked by its deviation, not against the recording. */
  deviated?: true;
  /** What differed, or why the step failed. */
  detail?: string;
}

/** Runs the transcript in order; returns one outcome per step run. */
export async function replayGolden(options: ReplayOptions): Promise<StepOutcome[]> {
  const golden = options.golden ?? loadGolden();
  const api = options.api ?? endpointOf(options.fleetctl);
  const outcomes: StepOutcome[] = [];
  for (const step of golden.steps) {
    if (options.only !== undefined && !options.only(step)) continue;
    let outcome: StepOutcome;
    try {
      if (step.waitFor !== undefined) {
        const settle = options.settle ?? ((wait) => waitForApi(api, wait, options.machines));
        await settle(step.waitFor);
        outcome = { id: step.id, passed: true };
      } else {
        const actual = await runStep(step, options);
        const deviation = options.deviations?.[step.id];
        const detail =
          deviation === undefined
            ? compareResult(step, actual, golden.meta.machines, options.machines)
            : deviation(actual);
        outcome = {
          id: step.id,
          passed: detail === null,
          ...(deviation !== undefined && { deviated: true as const }),
          ...(detail !== null && { detail }),
        };
      }
    } catch (err) {
      outcome = { id: step.id, passed: false, detail: (err as Error).message };
    }
    outcomes.push(outcome);
    options.onStep?.(outcome);
  }
  return outcomes;
}

/**
 * The tested cluster's machine names, read from the API: the recorded cluster's machines
 * carried metadata `name=r1` … `name=r3`, and the cluster under test must too.
 */
export async function discoverMachines(api: string): Promise<Record<string, string>> {
  const body = JSON.parse(await get(api, 'GET', '/fleet/v1/machines')) as {
    machines?: { id: string; metadata?: Record<string, string> }[];
  };
  const names: Record<string, string> = {};
  for (const machine of body.machines ?? []) {
    const name = machine.metadata?.name;
    if (name !== undefined) names[machine.id] = name;
  }
  return names;
}

export function endpointOf(fleetctl: string): string | undefined {
  const words = splitCommandLine(fleetctl);
  for (const [index, word] of words.entries()) {
    if (word === '--endpoint') return words[index + 1];
    if (word.startsWith('--endpoint=')) return word.slice('--endpoint='.length);
  }
  return undefined;
}

/** The transcripts' recorded environment: no FLEETCTL_* or SSH_AUTH_SOCK, a fresh HOME, then the step's. */
function stepEnvironment(step: GoldenStep, home: string, extra: Record<string, string>) {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name.startsWith('FLEETCTL_') || name === 'SSH_AUTH_SOCK') continue;
    env[name] = value;
  }
  Object.assign(env, extra, { HOME: home });
  for (const [name, value] of Object.entries(step.env ?? {})) {
    if (value === null) delete env[name];
    else env[name] = value;
  }
  return env;
}

async function runStep(step: GoldenStep, options: ReplayOptions): Promise<RecordedResult> {
  const command = stepCommand(options.fleetctl, step, options.machines);
  const home = await mkdtemp(join(tmpdir(), 'fleetctl-home-'));
  const timeoutMs = step.timeoutMs ?? options.defaultTimeoutMs ?? 120_000;
  const run = options.run ?? spawnStep;
  try {
    return await run(
      command,
      stepEnvironment(step, home, options.env ?? {}),
      options.unitsDir ?? UNITS_DIR,
      timeoutMs,
    );
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

export const spawnStep: StepRunner = (command, env, cwd, timeoutMs) => {
  const [program, ...args] = command;
  if (program === undefined) return Promise.reject(new Error('empty fleetctl command line'));
  return new Promise<RecordedResult>((resolve, reject) => {
    const child = spawn(program, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode: code ?? (signal === null ? -1 : 128),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
};

const WAIT_POLL_MS = 500;

async function waitForApi(api: string | undefined, wait: WaitFor, machines: MachineNames) {
  if (api === undefined) throw new Error('waitFor needs the API endpoint');
  const path = substitutePlaceholders(wait.request.path, machines);
  const deadline = Date.now() + wait.timeoutMs;
  let last = '';
  for (;;) {
    try {
      last = await get(api, wait.request.method, path);
      if (wait.until.every((predicate) => holds(predicate, last))) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`waitFor ${path} timed out after ${wait.timeoutMs} ms; last: ${last}`);
    }
    await sleep(WAIT_POLL_MS);
  }
}

function get(api: string, method: string, path: string): Promise<string> {
  const url = new URL(api);
  const target =
    url.protocol === 'unix:' || url.protocol === 'file:'
      ? { socketPath: url.pathname, path }
      : { host: url.hostname, port: url.port, path };
  return new Promise((resolve, reject) => {
    const req = request({ ...target, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The dotted path of a predicate into the JSON body (`states.0.systemdActiveState`). */
function lookup(body: unknown, path: string): unknown {
  let value = body;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function holds(predicate: Predicate, body: string): boolean {
  if ('bodyEquals' in predicate) return body === predicate.bodyEquals;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return false;
  }
  const value = lookup(json, predicate.path);
  if ('equals' in predicate) return value === predicate.equals;
  if ('length' in predicate) return Array.isArray(value) && value.length === predicate.length;
  return (
    Array.isArray(value) &&
    value.every((item) =>
      Object.entries(predicate.all).every(
        ([field, expected]) => (item as Record<string, unknown>)[field] === expected,
      ),
    )
  );
}
