import type { Logger } from 'pino';
import { jobRequirements } from '../job/requirements.js';
import type { KnownRequirements, RequirementsByUnit } from '../placement/model.js';
import type { UnitBodies } from '../registry/ports.js';

interface Entry extends KnownRequirements {
  /** The last pass that asked for it. */
  pass: number;
}

/**
 * Units' requirements for reconcile passes (the engine's and the agents'), by unit name, for
 * the body they were derived from. Each pass asks what is known, decides from that, and
 * asks for the bodies it lacks, which are read in the background; each read triggers
 * another pass through `onBodyRead`. Requirements of units that passes no longer ask about
 * are dropped once they make up a good part of the cache, so a pass over many units
 * derives nothing again for those it knows.
 */
export class RequirementsCache {
  private readonly entries = new Map<string, Entry>();
  private pass = 0;
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly bodies: UnitBodies,
    private readonly onBodyRead: () => void,
    private readonly log: Logger,
  ) {}

  /**
   * The requirements known for this pass's units (name and body hash each), deriving them
   * from bodies already read. A unit whose body is unread is missing from the answer, or
   * there under an older hash.
   */
  known(units: Iterable<readonly [name: string, hash: string]>): RequirementsByUnit {
    let asked = 0;
    for (const [name, hash] of units) {
      let entry = this.entries.get(name);
      if (entry === undefined || entry.hash !== hash) {
        const unitFile = this.bodies.cached(hash);
        if (unitFile === undefined) continue;
        entry = { hash, requirements: jobRequirements(name, unitFile), pass: -1 };
        this.entries.set(name, entry);
      }
      if (entry.pass !== this.pass) {
        entry.pass = this.pass;
        asked++;
      }
    }
    if (this.entries.size > 2 * asked + 1_000) {
      for (const [name, entry] of this.entries) {
        if (entry.pass !== this.pass) this.entries.delete(name);
      }
    }
    this.pass++;
    return this.entries;
  }

  /** Reads these bodies in the background, each once at a time. */
  fetch(hashes: Iterable<string>): void {
    for (const hash of hashes) {
      if (this.inFlight.has(hash)) continue;
      this.inFlight.add(hash);
      this.bodies
        .body(hash)
        .then(() => this.onBodyRead())
        .catch((err: unknown) =>
          this.log.warn(
            { err, hash },
            'Unable to read unit file; its units wait until it is readable',
          ),
        )
        .finally(() => this.inFlight.delete(hash));
    }
  }
}
