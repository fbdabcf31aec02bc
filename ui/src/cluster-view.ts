/**
 * What the page knows of the cluster, built from the event stream's lines alone: a reset line
 * starts afresh, every other line sets or removes one object. Applying a line twice changes
 * nothing, so lines of a cut revision that come again after a resume are harmless.
 */

export interface UnitOption {
  section: string;
  name: string;
  value: string;
}

export interface Unit {
  name: string;
  desiredState: string;
  currentState?: string;
  machineID?: string;
  options: UnitOption[];
}

export interface UnitState {
  name: string;
  machineID: string;
  systemdActiveState: string;
  systemdSubState: string;
  systemdLoadState: string;
}

export interface Machine {
  id: string;
  primaryIP?: string;
  metadata?: Record<string, string>;
}

export interface ClusterView {
  units: Map<string, Unit>;
  /** By unit name, then by the reporting machine's ID. */
  states: Map<string, Map<string, UnitState>>;
  machines: Map<string, Machine>;
}

export interface EventLine {
  revision: string;
  type: 'unit' | 'state' | 'machine' | 'reset';
  name?: string;
  machineID?: string;
  object?: unknown;
}

export function emptyView(): ClusterView {
  return { units: new Map(), states: new Map(), machines: new Map() };
}

/** Parses one line of the stream; null for the heartbeat's blank lines and anything unknown. */
export function parseEventLine(text: string): EventLine | null {
  if (text.trim() === '') return null;
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) return null;
  const line = value as Partial<EventLine>;
  if (typeof line.revision !== 'string') return null;
  if (!['unit', 'state', 'machine', 'reset'].includes(line.type ?? '')) return null;
  return line as EventLine;
}

export function applyLine(view: ClusterView, line: EventLine): ClusterView {
  if (line.type === 'reset') return emptyView();
  const name = line.name ?? '';
  if (line.type === 'unit') {
    if (line.object === null) view.units.delete(name);
    else view.units.set(name, line.object as Unit);
  } else if (line.type === 'state') {
    const machineID = line.machineID ?? '';
    const byMachine = view.states.get(name) ?? new Map<string, UnitState>();
    if (line.object === null) byMachine.delete(machineID);
    else byMachine.set(machineID, line.object as UnitState);
    if (byMachine.size === 0) view.states.delete(name);
    else view.states.set(name, byMachine);
  } else if (line.object === null) view.machines.delete(name);
  else view.machines.set(name, line.object as Machine);
  return view;
}

/** How many units each machine runs, by the states the machines report. */
export function unitCounts(view: ClusterView): Map<string, number> {
  const counts = new Map<string, number>();
  for (const byMachine of view.states.values()) {
    for (const machineID of byMachine.keys())
      counts.set(machineID, (counts.get(machineID) ?? 0) + 1);
  }
  return counts;
}

/** A unit's file as fleetctl cat prints it: sections in order of first appearance. */
export function unitFile(options: readonly UnitOption[]): string {
  const sections = new Map<string, string[]>();
  for (const option of options) {
    const lines = sections.get(option.section) ?? [];
    lines.push(`${option.name}=${option.value}`);
    sections.set(option.section, lines);
  }
  return [...sections].map(([section, lines]) => `[${section}]\n${lines.join('\n')}\n`).join('\n');
}

/**
 * Where to resume the stream after a drop: the last revision whose lines all came, known once a
 * line of a later revision arrived. After a reset nothing is complete until the snapshot's
 * revision is followed by another, so a cut snapshot is asked for afresh.
 */
export class ResumePoint {
  private current: string | null = null;
  private complete: string | null = null;

  see(line: EventLine): void {
    if (line.type === 'reset') this.complete = null;
    else if (this.current !== null && line.revision !== this.current) this.complete = this.current;
    this.current = line.revision;
  }

  /** The `since` to reconnect with; null for a fresh snapshot. */
  get since(): string | null {
    return this.complete;
  }
}
