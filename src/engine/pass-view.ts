import type { SchedulerMachine, SchedulerUnit } from '../placement/model.js';
import { matchesMachineID } from '../placement/rules.js';
import { AgentView } from './agent-view.js';

/**
 * The schedule as one reconcile pass sees it, updated after each of its decisions so the
 * next decision takes it into account: where each non-global unit is, each live machine's
 * view, and the machines in scheduling preference order.
 */
export class PassView {
  private readonly targets = new Map<string, string | null>();
  private readonly views = new Map<string, AgentView>();
  /** Fewest placed units first, ties broken by machine ID. */
  private readonly byLoad: AgentView[];

  constructor(
    jobs: readonly SchedulerUnit[],
    globalsByName: readonly SchedulerUnit[],
    machines: readonly SchedulerMachine[],
  ) {
    const placedOn = new Map<string, SchedulerUnit[]>(machines.map((machine) => [machine.id, []]));
    for (const job of jobs) {
      this.targets.set(job.name, job.targetMachineID);
      if (job.targetMachineID === null || job.targetState === 'inactive') continue;
      placedOn.get(job.targetMachineID)?.push(job);
    }
    for (const machine of machines) {
      const placed = placedOn.get(machine.id) ?? [];
      this.views.set(machine.id, new AgentView(machine, placed, globalsByName));
    }
    this.byLoad = [...this.views.values()].sort(compareLoad);
  }

  targetOf(unitName: string): string | null {
    return this.targets.get(unitName) ?? null;
  }

  viewOf(machineID: string): AgentView | undefined {
    return this.views.get(machineID);
  }

  /**
   * The machines to offer `unit`, in the order to offer them. A `MachineID` requirement
   * rules out every other machine before AbleToRun would, and without a check each.
   */
  candidatesFor(unit: SchedulerUnit): readonly AgentView[] {
    const required = unit.requirements.machineID;
    if (required === null) return this.byLoad;
    return this.byLoad.filter((view) => matchesMachineID(view.machine.id, required));
  }

  schedule(unit: SchedulerUnit, machineID: string): void {
    this.targets.set(unit.name, machineID);
    const view = this.views.get(machineID);
    if (view === undefined || unit.targetState === 'inactive') return;
    this.changeLoad(view, () => view.add(unit));
  }

  unschedule(unit: SchedulerUnit): void {
    const machineID = this.targetOf(unit.name);
    this.targets.set(unit.name, null);
    const view = machineID === null ? undefined : this.views.get(machineID);
    if (view === undefined || !view.has(unit.name)) return;
    this.changeLoad(view, () => view.remove(unit.name));
  }

  private changeLoad(view: AgentView, change: () => void): void {
    this.byLoad.splice(this.byLoad.indexOf(view), 1);
    change();
    let lo = 0;
    let hi = this.byLoad.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareLoad(this.byLoad[mid]!, view) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.byLoad.splice(lo, 0, view);
  }
}

function compareLoad(a: AgentView, b: AgentView): number {
  if (a.load !== b.load) return a.load - b.load;
  return a.machine.id < b.machine.id ? -1 : a.machine.id > b.machine.id ? 1 : 0;
}
