import { isJsonSpace, JsonScanner, Scan, stateEndValue } from './json-scanner.js';
import { decodeRune, RUNE_ERROR } from './text.js';

/**
 * A decoded JSON value that keeps what Go's decoder sees and `JSON.parse` loses: object
 * members in document order, duplicates included, so later members overwrite earlier ones
 * as they do in Go.
 */
export type JsonNode =
  | { kind: 'null' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'number'; text: string }
  | { kind: 'string'; value: string }
  | { kind: 'array'; items: JsonNode[] }
  | { kind: 'object'; members: Array<[string, JsonNode]> };

export type FirstValue = { ok: true; value: JsonNode } | { ok: false; message: string };

/**
 * What `json.NewDecoder(body).Decode(&v)` reads from a whole body: the first JSON value,
 * ignoring whatever follows it; `EOF` when there is nothing but whitespace,
 * `unexpected EOF` when the value is cut short, else the scanner's syntax error.
 */
export function readFirstJsonValue(body: Uint8Array): FirstValue {
  const scanner = new JsonScanner();
  let end = -1;
  for (let i = 0; i < body.length && end < 0; i++) {
    const c = body[i]!;
    const result = scanner.step(scanner, c);
    if (result === Scan.End) {
      end = i;
    } else if (result === Scan.EndObject || result === Scan.EndArray) {
      // Go invents a space after a closing bracket rather than wait for another byte.
      if (stateEndValue(scanner, 0x20) === Scan.End) end = i + 1;
    } else if (result === Scan.Error) {
      return { ok: false, message: scanner.error ?? '' };
    }
  }
  if (end < 0) {
    if (scanner.step(scanner, 0x20) !== Scan.End) {
      return { ok: false, message: body.some((c) => !isJsonSpace(c)) ? 'unexpected EOF' : 'EOF' };
    }
    end = body.length;
  }
  return { ok: true, value: new TreeBuilder(body.subarray(0, end)).value() };
}

/** Builds the tree of bytes the scanner has already accepted, so it never meets an error. */
class TreeBuilder {
  private pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  value(): JsonNode {
    this.skipSpace();
    const c = this.bytes[this.pos]!;
    switch (c) {
      case 0x7b /* { */:
        return this.object();
      case 0x5b /* [ */:
        return this.array();
      case 0x22 /* " */:
        return { kind: 'string', value: this.string() };
      case 0x74 /* t */:
        this.pos += 4;
        return { kind: 'bool', value: true };
      case 0x66 /* f */:
        this.pos += 5;
        return { kind: 'bool', value: false };
      case 0x6e /* n */:
        this.pos += 4;
        return { kind: 'null' };
      default:
        return { kind: 'number', text: this.number() };
    }
  }

  private object(): JsonNode {
    const members: Array<[string, JsonNode]> = [];
    this.pos++;
    this.skipSpace();
    if (this.bytes[this.pos] === 0x7d) {
      this.pos++;
      return { kind: 'object', members };
    }
    for (;;) {
      this.skipSpace();
      const key = this.string();
      this.skipSpace();
      this.pos++; // ':'
      members.push([key, this.value()]);
      this.skipSpace();
      if (this.bytes[this.pos++] === 0x7d) return { kind: 'object', members };
    }
  }

  private array(): JsonNode {
    const items: JsonNode[] = [];
    this.pos++;
    this.skipSpace();
    if (this.bytes[this.pos] === 0x5d) {
      this.pos++;
      return { kind: 'array', items };
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      if (this.bytes[this.pos++] === 0x5d) return { kind: 'array', items };
    }
  }

  private number(): string {
    const start = this.pos;
    while (
      this.pos < this.bytes.length &&
      /[-+.eE0-9]/.test(String.fromCharCode(this.bytes[this.pos]!))
    ) {
      this.pos++;
    }
    return new TextDecoder().decode(this.bytes.subarray(start, this.pos));
  }

  /** Go's `unquote`: bad UTF-8 and unpaired surrogate escapes each become U+FFFD. */
  private string(): string {
    let out = '';
    this.pos++; // opening quote
    for (;;) {
      const c = this.bytes[this.pos]!;
      if (c === 0x22) {
        this.pos++;
        return out;
      }
      if (c === 0x5c) {
        out += this.escape();
        continue;
      }
      const [rune, size] = decodeRune(this.bytes, this.pos);
      out += String.fromCodePoint(rune);
      this.pos += size;
    }
  }

  private escape(): string {
    const c = String.fromCharCode(this.bytes[this.pos + 1]!);
    this.pos += 2;
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return simple;
    const unit = this.hex4();
    if (unit < 0xd800 || unit > 0xdfff) return String.fromCharCode(unit);
    if (unit <= 0xdbff && this.bytes[this.pos] === 0x5c && this.bytes[this.pos + 1] === 0x75) {
      const save = this.pos;
      this.pos += 2;
      const low = this.hex4();
      if (low >= 0xdc00 && low <= 0xdfff) return String.fromCharCode(unit, low);
      this.pos = save;
    }
    return String.fromCodePoint(RUNE_ERROR);
  }

  private hex4(): number {
    const text = String.fromCharCode(...this.bytes.subarray(this.pos, this.pos + 4));
    this.pos += 4;
    return Number.parseInt(text, 16);
  }

  private skipSpace(): void {
    while (this.pos < this.bytes.length && isJsonSpace(this.bytes[this.pos]!)) this.pos++;
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};
