import type { DrainState } from '../../client/machine-cordons.js';

/** The lines that tell what changed between two looks at a drain: moves begun and ended. */
export function progressLines(before: DrainState | null, after: DrainState): string[] {
  const lines: string[] = [];
  const wasMoving = new Set(before?.moving ?? []);
  const hadMoved = new Set(before?.moved ?? []);
  for (const name of after.moved) {
    if (hadMoved.has(name)) continue;
    if (!wasMoving.has(name)) lines.push(`Moving ${name}`);
    lines.push(`Moved ${name}: it runs at its new place`);
  }
  for (const name of after.moving) {
    if (!wasMoving.has(name)) lines.push(`Moving ${name}`);
  }
  return lines;
}

/** The closing report of a finished drain. */
export function summaryLines(machineID: string, drain: DrainState): string[] {
  const moved = drain.moved.length;
  const lines = [`Machine ${machineID} drained: ${moved} unit${moved === 1 ? '' : 's'} moved`];
  for (const { name, reason } of drain.stayed) lines.push(`Unit ${name} stayed: ${reason}`);
  return lines;
}
