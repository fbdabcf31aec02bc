/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, or `--cpu-prof` of the scale benchmark):
 * the functions with the most self time, the source files with the most self time, and the
 * functions with the most inclusive time (self plus callees) among the project's own code.
 *
 * Usage: node .bench-build/bench/tools/profile-summary.js FILE.cpuprofile [--top N]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  const marker = ['/.bench-build/', '/node_modules/', 'node:'].find((m) => url.includes(m));
  if (marker === undefined) return url === '' ? '(native)' : url;
  return url.slice(url.indexOf(marker) + (marker.startsWith('/') ? 1 : 0));
}

function label(frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  return frame.url === '' ? name : `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function summarise(path: string, top: number): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfMs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const bySelf = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idleMs = 0;
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    bySelf.set(label(frame), (bySelf.get(label(frame)) ?? 0) + ms);
    const file = shortUrl(frame.url);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
    // Inclusive time: every distinct project function on the stack gets the sample.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const atFrame = byId.get(at)!.callFrame;
      if (!atFrame.url.includes('.bench-build/src/')) continue;
      const name = label(atFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    }
  }
  const busyMs = totalMs - idleMs;
  const rows = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([name, ms]) =>
          `  ${ms.toFixed(0).padStart(8)} ms  ${((ms / busyMs) * 100).toFixed(1).padStart(5)}%  ${name}`,
      )
      .join('\n');
  return [
    `${path}`,
    `  wall ${(totalMs / 1000).toFixed(1)} s, busy ${(busyMs / 1000).toFixed(1)} s (${((busyMs / totalMs) * 100).toFixed(0)}%)`,
    'self time by function:',
    rows(bySelf),
    'self time by file:',
    rows(byFile),
    "inclusive time of the project's functions:",
    rows(inclusive),
    '',
  ].join('\n');
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
for (const path of positionals) process.stdout.write(summarise(path, Number(values.top)));
