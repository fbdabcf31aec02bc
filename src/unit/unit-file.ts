import { createHash } from 'node:crypto';
import { deserializeUnitFile, type UnitOption } from './deserialize.js';
import { serializeUnitOptions } from './serialize.js';

export const FLEET_SECTION = 'X-Fleet';

/** Section → option name → values, in file order. */
export type UnitContents = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

/**
 * A unit file as fleet models it: the parsed options plus the derived canonical text and
 * SHA-1 hash that name its content everywhere (etcd, API, fleetctl).
 */
export class UnitFile {
  readonly options: readonly UnitOption[];
  readonly contents: UnitContents;
  private cachedSerialized: string | undefined;
  private cachedHash: string | undefined;

  constructor(options: readonly UnitOption[]) {
    this.options = options.map((option) => ({ ...option }));
    this.contents = mapOptions(this.options);
  }

  /** Parses unit-file text; throws UnitFileParseError with the original's message. */
  static parse(text: string | Uint8Array): UnitFile {
    return new UnitFile(deserializeUnitFile(text));
  }

  get serialized(): string {
    this.cachedSerialized ??= serializeUnitOptions(this.options);
    return this.cachedSerialized;
  }

  /** Lower-case hex SHA-1 of the canonical text. */
  get hash(): string {
    this.cachedHash ??= createHash('sha1').update(this.serialized, 'utf8').digest('hex');
    return this.cachedHash;
  }

  get hashShort(): string {
    return shortHash(this.hash);
  }

  /** The first `[Unit] Description`, or `''`. */
  get description(): string {
    return this.values('Unit', 'Description')[0] ?? '';
  }

  values(section: string, name: string): readonly string[] {
    return this.contents.get(section)?.get(name) ?? [];
  }
}

export function shortHash(hash: string): string {
  return hash.slice(0, 7);
}

function mapOptions(options: readonly UnitOption[]): UnitContents {
  const contents = new Map<string, Map<string, string[]>>();
  for (const option of options) {
    let section = contents.get(option.section);
    if (section === undefined) {
      section = new Map();
      contents.set(option.section, section);
    }
    const values = section.get(option.name) ?? [];
    const parsed =
      option.section === FLEET_SECTION ? splitMultivalue(option.value) : [option.value];
    section.set(option.name, [...values, ...parsed]);
  }
  return contents;
}

/**
 * fleet's `[X-Fleet]` multi-value rule: a value that starts and ends with `"` is split at
 * spaces outside quotes and the quotes dropped (`"a=b" "c=d"` → `a=b`, `c=d`). Backslashes
 * do not escape quotes, so `"foo\"bar"` yields `foo\bar`, as in the original.
 */
export function splitMultivalue(line: string): string[] {
  if (!line.startsWith('"') || !line.endsWith('"')) return [line];
  const values: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
    } else if (ch === ' ' && !quoted) {
      values.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  values.push(current);
  return values;
}
