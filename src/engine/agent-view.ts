import type { SchedulerMachine, SchedulerUnit } from '../placement/model.js';
import {
  byName,
  conflicts,
  declaresReplace,
  hasMetadata,
  placeGlobals,
} from '../placement/rules.js';

/**
 * One machine as the engine sees it during a reconcile pass: the non-global units scheduled
 * to it with a desired state other than inactive, plus the global units it would run beside
 * them. Both count as its load and take part in conflict checks.
 */
export class AgentView {
  readonly machine: SchedulerMachine;
  /** The globals whose metadata this machine satisfies, by name. */
  private readonly eligibleGlobals: readonly SchedulerUnit[];
  /** The eligible globals that conflict with nothing placed before them, by name. */
  private globals: SchedulerUnit[];
  /** Non-global units, by name, and the subsets that declare Conflicts or Replaces: a unit
   * declaring neither can only be related to those, which keeps crowded machines cheap. */
  private readonly scheduled: SchedulerUnit[] = [];
  private readonly declaringConflicts: SchedulerUnit[] = [];
  private readonly declaringReplaces: SchedulerUnit[] = [];
  private readonly placedNames = new Set<string>();

  constructor(
    machine: SchedulerMachine,
    scheduled: readonly SchedulerUnit[],
    globalsByName: readonly SchedulerUnit[],
  ) {
    this.machine = machine;
    this.eligibleGlobals = globalsByName.filter((global) =>
      hasMetadata(machine, global.requirements.metadata),
    );
    for (const unit of scheduled) this.index(unit);
    this.globals = placeGlobals(machine, this.scheduled, this.eligibleGlobals);
    for (const global of this.globals) this.placedNames.add(global.name);
  }

  /** How many units the machine runs, global ones included. */
  get load(): number {
    return this.placedNames.size;
  }

  has(unitName: string): boolean {
    return this.placedNames.has(unitName);
  }

  /** The non-global units scheduled here, in name order. */
  scheduledUnits(): readonly SchedulerUnit[] {
    return this.scheduled;
  }

  /** The first placed unit, by name, that `unit` conflicts with in either direction. */
  firstConflict(unit: SchedulerUnit): SchedulerUnit | undefined {
    const suspects =
      unit.requirements.conflicts.length > 0 ? this.scheduled : this.declaringConflicts;
    const scheduledHit = suspects.find((placed) => conflicts(unit, placed));
    const globalHit = this.globals.find((global) => conflicts(unit, global));
    if (scheduledHit === undefined || globalHit === undefined) return scheduledHit ?? globalHit;
    return byName(scheduledHit, globalHit) < 0 ? scheduledHit : globalHit;
  }

  /**
   * The first scheduled unit, by name, that `unit` replaces or that replaces it, but not
   * both. Global units are left out: they cannot be moved, so no relation with one can act.
   */
  firstReplaceRelation(unit: SchedulerUnit): SchedulerUnit | undefined {
    const suspects =
      unit.requirements.replaces.length > 0 ? this.scheduled : this.declaringReplaces;
    return suspects.find(
      (placed) => declaresReplace(unit, placed) !== declaresReplace(placed, unit),
    );
  }

  add(unit: SchedulerUnit): void {
    this.index(unit);
    // A unit that clashes with no chosen global leaves every global's fate as it was.
    if (this.globals.some((global) => conflicts(global, unit))) this.replaceGlobals();
  }

  remove(unitName: string): void {
    const removed = removeNamed(this.scheduled, unitName);
    if (removed === undefined) return;
    removeNamed(this.declaringConflicts, unitName);
    removeNamed(this.declaringReplaces, unitName);
    this.placedNames.delete(unitName);
    // Only a global that this unit kept out can come back (and in turn push later ones out).
    const keptOut = (global: SchedulerUnit) =>
      !this.globals.includes(global) && conflicts(global, removed);
    if (this.eligibleGlobals.some(keptOut)) this.replaceGlobals();
  }

  private index(unit: SchedulerUnit): void {
    insertByName(this.scheduled, unit);
    if (unit.requirements.conflicts.length > 0) insertByName(this.declaringConflicts, unit);
    if (unit.requirements.replaces.length > 0) insertByName(this.declaringReplaces, unit);
    this.placedNames.add(unit.name);
  }

  private replaceGlobals(): void {
    for (const global of this.globals) this.placedNames.delete(global.name);
    this.globals = placeGlobals(this.machine, this.scheduled, this.eligibleGlobals);
    for (const global of this.globals) this.placedNames.add(global.name);
  }
}

function insertByName(sorted: SchedulerUnit[], unit: SchedulerUnit): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byName(sorted[mid]!, unit) < 0) lo = mid + 1;
    else hi = mid;
  }
  sorted.splice(lo, 0, unit);
}

function removeNamed(sorted: SchedulerUnit[], unitName: string): SchedulerUnit | undefined {
  const index = sorted.findIndex((unit) => unit.name === unitName);
  return index < 0 ? undefined : sorted.splice(index, 1)[0];
}
