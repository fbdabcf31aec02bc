import type { Logger } from 'pino';
import { jobRequirements } from '../job/requirements.js';
import type { Requirements } from '../job/types.js';
import type { UnitFileCache } from '../registry/unit-file-cache.js';

/**
 * Units' requirements for reconcile passes (the engine's and the agents'). A unit whose body
 * has not been read yet has none for now: its body is fetched in the background and
 * `onBodyRead` asks for another pass. Requirements of units a pass no longer asks about are
 * dropped at the end of the pass.
 */
export class RequirementsCache {
  private current = new Map<string, Requirements>();
  private used = new Map<string, Requirements>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly bodies: UnitFileCache,
    private readonly onBodyRead: () => void,
    private readonly log: Logger,
  ) {}

  /** The requirements of the body `hash` under the name `name`, or undefined for now. */
  get(name: string, hash: string): Requirements | undefined {
    const key = `${hash}/${name}`;
    let requirements = this.current.get(key);
    if (requirements === undefined) {
      const unitFile = this.bodies.cached(hash);
      if (unitFile === undefined) {
        this.fetch(hash);
        return undefined;
      }
      requirements = jobRequirements(name, unitFile);
    }
    this.used.set(key, requirements);
    return requirements;
  }

  endPass(): void {
    this.current = this.used;
    this.used = new Map();
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
