/**
 * A rollout's decisions for one pass, pure: which of its units on which machines are
 * healthy with the new content, which failed, whether it reverts, pauses for its canary or
 * is done, and which move next. Its input is values only: the record, the units' records
 * and published states, the live machines and the leader's clock.
 */

import { formatGoDuration } from '../go/duration-string.js';
import type { UnitState } from '../registry/model.js';
import type { PinWrite } from '../registry/ports.js';
import type { RolloutRecord, RolloutStep } from '../registry/records.js';

export interface RolloutInput {
  record: RolloutRecord;
  /** The content each unit's record names now; absent when the unit is gone. */
  unitHashes: ReadonlyMap<string, string>;
  /** The published states of the rollout's units, on every machine. */
  states: readonly UnitState[];
  /** Live machines. */
  machines: ReadonlySet<string>;
  /** With a health command: whether it last succeeded, by `stepKey`. */
  healthChecks: ReadonlyMap<string, boolean>;
  /** The leader's clock, in ms since the epoch. */
  now: number;
}

export interface RolloutDecision {
  record: RolloutRecord;
  /** The pins to write with the record, in one transaction. */
  pins: PinWrite[];
  /** Whether anything changed: otherwise nothing is written. */
  changed: boolean;
}

/** How a step is named in health checks and logs. */
export function stepKey(step: Pick<RolloutStep, 'machineID' | 'unit'>): string {
  return `${step.machineID}/${step.unit}`;
}

/**
 * The pass's decision. A step `updating` runs the new content (its pin holds it there); it
 * becomes `healthy` once its unit has been active with the new content for the minimum
 * healthy time and, with a health command, that command last succeeded. One that is not
 * healthy within the deadline fails the rollout: with auto-revert, every step still
 * updating goes back to the old content. Steps not reached stay on the old content.
 */
export function decideRollout(input: RolloutInput): RolloutDecision {
  const before = JSON.stringify(input.record);
  const record: RolloutRecord = structuredClone(input.record);
  const pins: PinWrite[] = [];
  if (record.status !== 'running') return { record, pins, changed: false };

  // The API writes the rollout, then the units' new content: until then, nothing may move.
  const started = record.steps.some((step) => step.phase !== 'waiting');
  const pending = record.units.some((unit) => input.unitHashes.get(unit.name) === unit.oldHash);
  if (!started && pending) return { record, pins, changed: false };
  const replaced = record.units.find((unit) => input.unitHashes.get(unit.name) !== unit.newHash);
  if (replaced !== undefined) {
    record.status = 'failed';
    record.message = `Unit ${replaced.name} was replaced or destroyed during the rollout`;
    // The unit's record rules every machine again: nothing is held back any more.
    for (const step of record.steps) {
      if (step.phase === 'waiting' || step.phase === 'updating' || step.phase === 'reverted') {
        pins.push({ machineID: step.machineID, unit: step.unit, hash: null });
      }
    }
    return { record, pins, changed: true };
  }

  const hashes = new Map(record.units.map((unit) => [unit.name, unit]));
  let failure: RolloutStep | null = null;
  for (const step of record.steps) {
    if (step.phase !== 'updating') continue;
    // A machine away for a fleetd restart comes back; one away past the deadline is lost.
    if (!input.machines.has(step.machineID)) {
      delete step.activeSince;
      if (input.now - (step.startedAt ?? input.now) >= record.healthyDeadlineMs) lose(step, pins);
      continue;
    }
    const newHash = hashes.get(step.unit)!.newHash;
    const state = input.states.find(
      (candidate) => candidate.name === step.unit && candidate.machineID === step.machineID,
    );
    const active = state?.hash === newHash && state.activeState === 'active';
    if (!active) {
      delete step.activeSince;
    } else {
      step.activeSince ??= input.now;
      const checked = record.healthCmd === null || input.healthChecks.get(stepKey(step)) === true;
      if (checked && input.now - step.activeSince >= record.minHealthyMs) {
        step.phase = 'healthy';
        delete step.activeSince;
        pins.push({ machineID: step.machineID, unit: step.unit, hash: null });
        continue;
      }
    }
    if (input.now - (step.startedAt ?? input.now) >= record.healthyDeadlineMs) {
      step.reason = unhealthyReason(record, state, newHash, active);
      failure ??= step;
    }
  }
  if (failure !== null) return fail(record, failure, pins);

  const updating = record.steps.filter((step) => step.phase === 'updating').length;
  const healthy = record.steps.filter((step) => step.phase === 'healthy').length;
  const inCanary = record.canary > 0 && !record.canaryPassed;
  if (inCanary && updating === 0 && healthy >= record.canary) {
    record.status = 'paused';
    record.message = `Paused after ${healthy} canary ${healthy === 1 ? 'step' : 'steps'}: resume with fleetctl rollout resume ${record.id}`;
    return { record, pins, changed: true };
  }
  let slots = record.maxParallel - updating;
  if (inCanary) slots = Math.min(slots, record.canary - healthy - updating);
  const waiting = record.steps.filter((step) => step.phase === 'waiting');
  for (const step of waiting.filter((candidate) => input.machines.has(candidate.machineID))) {
    if (slots <= 0) break;
    slots -= 1;
    step.phase = 'updating';
    step.startedAt = input.now;
    pins.push({
      machineID: step.machineID,
      unit: step.unit,
      hash: hashes.get(step.unit)!.newHash,
      ...(record.healthCmd !== null && { healthCmd: record.healthCmd }),
    });
  }
  const stillUpdating = record.steps.some((step) => step.phase === 'updating');
  if (!stillUpdating) {
    // Only steps on machines that are gone are left: nothing can be waited for on them.
    for (const step of record.steps.filter((candidate) => candidate.phase === 'waiting')) {
      lose(step, pins);
    }
    record.status = 'completed';
    record.message = completedMessage(record);
  }
  return { record, pins, changed: JSON.stringify(record) !== before || pins.length > 0 };
}

/**
 * A step whose machine left the cluster (for longer than the deadline, when it had begun):
 * released, so it runs the new content should it return.
 */
function lose(step: RolloutStep, pins: PinWrite[]): void {
  step.phase = 'lost';
  step.reason = 'its machine left the cluster';
  delete step.activeSince;
  pins.push({ machineID: step.machineID, unit: step.unit, hash: null });
}

function fail(record: RolloutRecord, failure: RolloutStep, pins: PinWrite[]): RolloutDecision {
  const hashes = new Map(record.units.map((unit) => [unit.name, unit]));
  record.status = 'failed';
  const what = `${failure.unit} on machine ${failure.machineID} did not become healthy within ${formatGoDuration(record.healthyDeadlineMs)} (${failure.reason})`;
  for (const step of record.steps.filter((candidate) => candidate.phase === 'updating')) {
    delete step.activeSince;
    if (record.autoRevert) {
      step.phase = 'reverted';
      step.reason ??= 'reverted with the rollout';
      pins.push({
        machineID: step.machineID,
        unit: step.unit,
        hash: hashes.get(step.unit)!.oldHash,
      });
    } else {
      step.phase = 'failed';
      step.reason ??= 'the rollout failed';
    }
  }
  record.message = record.autoRevert
    ? `Rollout failed: ${what}; reverted to the previous content`
    : `Rollout failed: ${what}`;
  return { record, pins, changed: true };
}

function unhealthyReason(
  record: RolloutRecord,
  state: UnitState | undefined,
  newHash: string,
  active: boolean,
): string {
  if (state === undefined) return 'no state reported';
  if (state.hash !== newHash) return 'still runs the previous content';
  if (!active) return `${state.activeState}/${state.subState}`;
  return record.healthCmd === null ? 'not active long enough' : 'health command did not succeed';
}

function completedMessage(record: RolloutRecord): string {
  const healthy = record.steps.filter((step) => step.phase === 'healthy').length;
  const lost = record.steps.length - healthy;
  const base = `Rollout completed: ${healthy} of ${record.steps.length} updated`;
  return lost > 0 ? `${base}, ${lost} lost with their machine` : base;
}
