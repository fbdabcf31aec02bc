import type { Etcd3 } from 'etcd3';
import { PrefixMirror } from './prefix-mirror.js';

/**
 * Several prefixes mirrored together, for one reader (the engine, an agent): watched or
 * re-listed as one, with one change callback that also invalidates the reader's decoded
 * snapshot.
 */
export class MirrorGroup<Name extends string> {
  readonly mirrors: Readonly<Record<Name, PrefixMirror>>;

  constructor(etcd: Etcd3, prefixes: Readonly<Record<Name, string>>, onChange: () => void) {
    const mirrors = {} as Record<Name, PrefixMirror>;
    for (const name of Object.keys(prefixes) as Name[]) {
      mirrors[name] = new PrefixMirror(etcd, prefixes[name], onChange);
    }
    this.mirrors = mirrors;
  }

  private all(): PrefixMirror[] {
    return Object.values(this.mirrors) as PrefixMirror[];
  }

  /** Starts watching every prefix; resolves once each has been listed. */
  async watch(): Promise<void> {
    await Promise.all(this.all().map((mirror) => mirror.watch()));
  }

  /** Re-lists every prefix: the periodic path when watches are disabled. */
  async relist(): Promise<void> {
    await Promise.all(this.all().map((mirror) => mirror.relist()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((mirror) => mirror.stop()));
  }
}
