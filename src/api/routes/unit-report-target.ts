/**
 * Which machine a unit's status or journal comes from, decided from the unit as the API
 * shows it and the machines that report a state for it. Pure: the route reads, this decides.
 */

export interface ReportedUnit {
  name: string;
  global: boolean;
  /** The machine a non-global unit is scheduled to; null when unscheduled (or global). */
  machineID: string | null;
}

export type ReportTarget =
  | { machineID: string }
  | { refusal: { status: 400 | 404; message: string } };

/**
 * A global unit needs `requested`, a machine reporting it; any other unit comes from the
 * machine it is scheduled to and reports from, which `requested`, when given, must name.
 */
export function reportTarget(
  unit: ReportedUnit | null,
  name: string,
  reportingMachines: readonly string[],
  requested: string | undefined,
): ReportTarget {
  if (unit === null) return refuse(404, `unit ${name} does not exist`);
  if (unit.global) {
    if (requested === undefined) {
      return refuse(400, `unit ${name} is global: name a machine with machine=<ID>`);
    }
    if (!reportingMachines.includes(requested)) {
      return refuse(404, `unit ${name} is not running on machine ${requested}`);
    }
    return { machineID: requested };
  }
  if (unit.machineID === null || !reportingMachines.includes(unit.machineID)) {
    return refuse(404, `unit ${name} is not running on any machine`);
  }
  if (requested !== undefined && requested !== unit.machineID) {
    return refuse(400, `unit ${name} runs on machine ${unit.machineID}, not ${requested}`);
  }
  return { machineID: unit.machineID };
}

function refuse(status: 400 | 404, message: string): ReportTarget {
  return { refusal: { status, message } };
}
