import type { Logger } from 'pino';
import { jobRequirements } from '../job/requirements.js';
import type { Requirements } from '../job/types.js';
import type { UnitFileCache } from '../registry/unit-file-cache.js';

interface Entry {
  hash: string;
  requirements: Requirements;
  /** The last pass that asked for it. */
  pass: number;
}

/**
 * Units' requirements for reconcile passes (the engine's and the agents'), by unit name, for
 * the body they were derived from. A unit whose body has not been read yet has none for
 * now: its body is fetched in the background and `onBodyRead` asks for another pass.
 * Requirements of units that passes no longer ask about are dropped once they make up a
 * good part of the cache, so a pass over many units allocates nothing for those it knows.
 */
export class RequirementsCache {
  private readonly entries = new Map<string, Entry>();
  private pass = 0;
  private askedThisPass = 0;
  private missedThisPass = false;
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly bodies: UnitFileCache,
    private readonly onBodyRead: () => void,
    private readonly log: Logger,
  ) {}

  /** The requirements of the body `hash` under the name `name`, or undefined for now. */
  get(name: string, hash: string): Requirements | undefined {
    let entry = this.entries.get(name);
    if (entry === undefined || entry.hash !== hash) {
      const unitFile = this.bodies.cached(hash);
      if (unitFile === undefined) {
        this.fetch(hash);
        this.missedThisPass = true;
        return undefined;
      }
      entry = { hash, requirements: jobRequirements(name, unitFile), pass: -1 };
      this.entries.set(name, entry);
    }
    if (entry.pass !== this.pass) {
      entry.pass = this.pass;
      this.askedThisPass++;
    }
    return entry.requirements;
  }

  /** Ends a pass; true when every unit it asked about had its requirements. */
  endPass(): boolean {
    if (this.entries.size > 2 * this.askedThisPass + 1_000) {
      for (const [name, entry] of this.entries) {
        if (entry.pass !== this.pass) this.entries.delete(name);
      }
    }
    this.pass++;
    this.askedThisPass = 0;
    const complete = !this.missedThisPass;
    this.missedThisPass = false;
    return complete;
  }

  private fetch(hash: string): void {
    if (this.inFlight.has(hash)) return;
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
