import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { EngineSnapshot, LeaderFence } from '../registry/model.js';
import type { RolloutRecords, StoredRollout, UnitStateReads } from '../registry/ports.js';
import { decideRollout, stepKey } from './rollout.js';

/**
 * The engine leader's hand on rollouts: on each pass, reads every running rollout and the
 * states of its units, lets `decideRollout` decide, and writes the record with its pins,
 * fenced by the leadership and guarded by the revision the decision saw.
 */
export class RolloutDriver {
  constructor(
    private readonly records: RolloutRecords,
    private readonly states: UnitStateReads,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  /** Drives each running rollout one pass. */
  async pass(fence: LeaderFence, snapshot: EngineSnapshot): Promise<void> {
    const running = (await this.records.list()).filter(({ record }) => record.status === 'running');
    let stale = false;
    for (const rollout of running) {
      if (!(await this.drive(fence, snapshot, rollout))) stale = true;
    }
    if (stale) this.log.debug('Rollout changed or leadership lost meanwhile; deciding again');
  }

  /** False when the write was refused: the record changed or the leadership is gone. */
  private async drive(
    fence: LeaderFence,
    snapshot: EngineSnapshot,
    { record, modRevision }: StoredRollout,
  ): Promise<boolean> {
    const unitHashes = new Map<string, string>();
    for (const { name } of record.units) {
      const unit = snapshot.units.get(name);
      if (unit !== undefined) unitHashes.set(name, unit.record.hash);
    }
    const states = await Promise.all(record.units.map(({ name }) => this.states.forUnit(name)));
    const healthChecks = new Map<string, boolean>();
    if (record.healthCmd !== null) {
      const newHashes = new Map(record.units.map((unit) => [unit.name, unit.newHash]));
      for (const report of await this.records.health()) {
        if (report.rollout !== record.id || newHashes.get(report.unit) !== report.hash) continue;
        healthChecks.set(stepKey(report), report.ok);
      }
    }
    const decision = decideRollout({
      record,
      unitHashes,
      states: states.flat(),
      machines: new Set(snapshot.machines.keys()),
      healthChecks,
      now: this.clock.now(),
    });
    if (!decision.changed) return true;
    const written = await this.records.update(modRevision, decision.record, decision.pins, fence);
    if (written && decision.record.status !== record.status) {
      this.log.info(
        { rollout: record.id, status: decision.record.status },
        decision.record.message,
      );
    } else if (written) {
      const phases = decision.record.steps.map(
        (step) => `${step.machineID}/${step.unit}=${step.phase}`,
      );
      this.log.info({ rollout: record.id, steps: phases }, 'Rollout progressed');
    }
    return written;
  }
}
