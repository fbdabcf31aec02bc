import type { RolloutState, RolloutStepState } from '../../client/rollouts.js';

/** How a step's phase reads in fleetctl's progress. */
function stepLine(step: RolloutStepState): string {
  const where = `${step.unit} on machine ${step.machineID}`;
  const why = step.reason === undefined ? '' : `: ${step.reason}`;
  switch (step.phase) {
    case 'updating':
      return `Updating ${where}`;
    case 'healthy':
      return `Updated ${where}: healthy`;
    case 'reverted':
      return `Reverted ${where}${why}`;
    case 'failed':
      return `Failed ${where}${why}`;
    case 'lost':
      return `Lost ${where}${why}`;
    default:
      return `Waiting ${where}`;
  }
}

/**
 * The lines that tell what changed between two looks at a rollout: one per step that moved
 * on (a step that went through `updating` unseen gets that line too), then the rollout's
 * message when its status changed (at the first look, when it is not simply running).
 */
export function rolloutLines(before: RolloutState | null, after: RolloutState): string[] {
  const lines: string[] = [];
  const phases = new Map(
    (before?.steps ?? []).map((step) => [`${step.machineID}/${step.unit}`, step.phase]),
  );
  for (const step of after.steps) {
    const was = phases.get(`${step.machineID}/${step.unit}`) ?? 'waiting';
    if (was === step.phase || step.phase === 'waiting') continue;
    if (was === 'waiting' && step.phase !== 'updating' && step.phase !== 'lost') {
      lines.push(stepLine({ ...step, phase: 'updating' }));
    }
    lines.push(stepLine(step));
  }
  const changed = before === null ? after.status !== 'running' : before.status !== after.status;
  if (changed) lines.push(after.message);
  return lines;
}

/** One line per rollout for `rollout list`. */
export function listLine(rollout: RolloutState): string {
  const units = rollout.units.map((unit) => unit.name).join(',');
  const healthy = rollout.steps.filter((step) => step.phase === 'healthy').length;
  return `${rollout.id}\t${rollout.status}\t${healthy}/${rollout.steps.length}\t${units}`;
}
