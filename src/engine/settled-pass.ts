import type { EngineSnapshot } from '../registry/model.js';

/**
 * Remembers what the last settled pass decided from, so the leader can tell when another
 * pass would decide exactly the same thing. A pass is settled when it changed nothing and
 * every unit had its requirements: `planPass` is a pure function, so with the same snapshot
 * (the feed keeps one object until something under a mirrored prefix changes) and the same
 * unconfirmed machines, the next pass would again change nothing. That makes the periodic
 * safety-net tick of an idle cluster cost a comparison instead of a pass over every unit.
 */
export class SettledPass {
  private snapshot: EngineSnapshot | null = null;
  private unconfirmed: ReadonlySet<string> = new Set();

  /** Whether a pass over these inputs would repeat the last settled one. */
  repeats(snapshot: EngineSnapshot, unconfirmed: ReadonlySet<string>): boolean {
    return (
      snapshot === this.snapshot &&
      unconfirmed.size === this.unconfirmed.size &&
      [...unconfirmed].every((machineID) => this.unconfirmed.has(machineID))
    );
  }

  /** Records a pass: settled ones are remembered, any other makes the next pass decide. */
  passed(snapshot: EngineSnapshot, unconfirmed: ReadonlySet<string>, settled: boolean): void {
    this.snapshot = settled ? snapshot : null;
    this.unconfirmed = unconfirmed;
  }

  /** Forgets the last pass (leadership lost: the next one decides whatever it sees). */
  forget(): void {
    this.snapshot = null;
  }
}
