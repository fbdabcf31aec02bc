import { quoteString } from './text.js';

/**
 * Go's `encoding/json` scanner state machine (go1.19), byte for byte. fleet decoded request
 * bodies with `json.NewDecoder(body).Decode(&v)`, and its 400 messages are this scanner's
 * text (`invalid character 'o' in literal null (expecting 'u')`), so the states and their
 * messages are reproduced rather than approximated with `JSON.parse`.
 */

/** What a byte meant to the scanner (Go's `scanContinue` …). */
export const Scan = {
  Continue: 0,
  BeginLiteral: 1,
  BeginObject: 2,
  ObjectKey: 3,
  ObjectValue: 4,
  EndObject: 5,
  BeginArray: 6,
  ArrayValue: 7,
  EndArray: 8,
  SkipSpace: 9,
  /** The top-level value ended before this byte. */
  End: 10,
  Error: 11,
} as const;
export type Scan = (typeof Scan)[keyof typeof Scan];

const Parse = {
  ObjectKey: 0,
  ObjectValue: 1,
  ArrayValue: 2,
} as const;
type Parse = (typeof Parse)[keyof typeof Parse];

const MAX_NESTING_DEPTH = 10_000;

type Step = (s: JsonScanner, c: number) => Scan;

export class JsonScanner {
  step: Step = stateBeginValue;
  parseState: Parse[] = [];
  /** The syntax error's message once one was met. */
  error: string | null = null;
  endTop = false;

  fail(c: number, context: string): Scan {
    this.step = stateError;
    this.error = `invalid character ${quoteChar(c)} ${context}`;
    return Scan.Error;
  }

  pushParseState(c: number, state: Parse, success: Scan): Scan {
    this.parseState.push(state);
    return this.parseState.length <= MAX_NESTING_DEPTH
      ? success
      : this.fail(c, 'exceeded max depth');
  }

  popParseState(): void {
    this.parseState.pop();
    if (this.parseState.length === 0) {
      this.step = stateEndTop;
      this.endTop = true;
    } else {
      this.step = stateEndValue;
    }
  }
}

export function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
const ch = (s: string) => s.charCodeAt(0);

/** Go's `quoteChar`: the byte taken as a rune, `%q`-quoted between single quotes. */
function quoteChar(c: number): string {
  if (c === ch("'")) return `'\\''`;
  if (c === ch('"')) return `'"'`;
  const quoted = quoteString(String.fromCharCode(c));
  return `'${quoted.slice(1, -1)}'`;
}

function stateBeginValueOrEmpty(s: JsonScanner, c: number): Scan {
  if (isJsonSpace(c)) return Scan.SkipSpace;
  if (c === ch(']')) return stateEndValue(s, c);
  return stateBeginValue(s, c);
}

function stateBeginValue(s: JsonScanner, c: number): Scan {
  if (isJsonSpace(c)) return Scan.SkipSpace;
  switch (c) {
    case ch('{'):
      s.step = stateBeginStringOrEmpty;
      return s.pushParseState(c, Parse.ObjectKey, Scan.BeginObject);
    case ch('['):
      s.step = stateBeginValueOrEmpty;
      return s.pushParseState(c, Parse.ArrayValue, Scan.BeginArray);
    case ch('"'):
      s.step = stateInString;
      return Scan.BeginLiteral;
    case ch('-'):
      s.step = stateNeg;
      return Scan.BeginLiteral;
    case ch('0'):
      s.step = state0;
      return Scan.BeginLiteral;
    case ch('t'):
      s.step = literal('rue', 'true', 0);
      return Scan.BeginLiteral;
    case ch('f'):
      s.step = literal('alse', 'false', 0);
      return Scan.BeginLiteral;
    case ch('n'):
      s.step = literal('ull', 'null', 0);
      return Scan.BeginLiteral;
  }
  if (c >= ch('1') && c <= ch('9')) {
    s.step = state1;
    return Scan.BeginLiteral;
  }
  return s.fail(c, 'looking for beginning of value');
}

function stateBeginStringOrEmpty(s: JsonScanner, c: number): Scan {
  if (isJsonSpace(c)) return Scan.SkipSpace;
  if (c === ch('}')) {
    s.parseState[s.parseState.length - 1] = Parse.ObjectValue;
    return stateEndValue(s, c);
  }
  return stateBeginString(s, c);
}

function stateBeginString(s: JsonScanner, c: number): Scan {
  if (isJsonSpace(c)) return Scan.SkipSpace;
  if (c === ch('"')) {
    s.step = stateInString;
    return Scan.BeginLiteral;
  }
  return s.fail(c, 'looking for beginning of object key string');
}

export function stateEndValue(s: JsonScanner, c: number): Scan {
  const n = s.parseState.length;
  if (n === 0) {
    s.step = stateEndTop;
    s.endTop = true;
    return stateEndTop(s, c);
  }
  if (isJsonSpace(c)) {
    s.step = stateEndValue;
    return Scan.SkipSpace;
  }
  switch (s.parseState[n - 1]) {
    case Parse.ObjectKey:
      if (c === ch(':')) {
        s.parseState[n - 1] = Parse.ObjectValue;
        s.step = stateBeginValue;
        return Scan.ObjectKey;
      }
      return s.fail(c, 'after object key');
    case Parse.ObjectValue:
      if (c === ch(',')) {
        s.parseState[n - 1] = Parse.ObjectKey;
        s.step = stateBeginString;
        return Scan.ObjectValue;
      }
      if (c === ch('}')) {
        s.popParseState();
        return Scan.EndObject;
      }
      return s.fail(c, 'after object key:value pair');
    default:
      if (c === ch(',')) {
        s.step = stateBeginValue;
        return Scan.ArrayValue;
      }
      if (c === ch(']')) {
        s.popParseState();
        return Scan.EndArray;
      }
      return s.fail(c, 'after array element');
  }
}

function stateEndTop(s: JsonScanner, c: number): Scan {
  // Go records the complaint but still reports the end: a decoder stops before this byte.
  if (!isJsonSpace(c)) s.fail(c, 'after top-level value');
  return Scan.End;
}

function stateInString(s: JsonScanner, c: number): Scan {
  if (c === ch('"')) {
    s.step = stateEndValue;
    return Scan.Continue;
  }
  if (c === ch('\\')) {
    s.step = stateInStringEsc;
    return Scan.Continue;
  }
  if (c < 0x20) return s.fail(c, 'in string literal');
  return Scan.Continue;
}

function stateInStringEsc(s: JsonScanner, c: number): Scan {
  if ('bfnrt\\/"'.includes(String.fromCharCode(c))) {
    s.step = stateInString;
    return Scan.Continue;
  }
  if (c === ch('u')) {
    s.step = hexEscape(4);
    return Scan.Continue;
  }
  return s.fail(c, 'in string escape code');
}

function hexEscape(remaining: number): Step {
  return (s, c) => {
    if (!isHex(c)) return s.fail(c, 'in \\u hexadecimal character escape');
    s.step = remaining === 1 ? stateInString : hexEscape(remaining - 1);
    return Scan.Continue;
  };
}

function stateNeg(s: JsonScanner, c: number): Scan {
  if (c === ch('0')) {
    s.step = state0;
    return Scan.Continue;
  }
  if (c >= ch('1') && c <= ch('9')) {
    s.step = state1;
    return Scan.Continue;
  }
  return s.fail(c, 'in numeric literal');
}

function state1(s: JsonScanner, c: number): Scan {
  if (isDigit(c)) {
    s.step = state1;
    return Scan.Continue;
  }
  return state0(s, c);
}

function state0(s: JsonScanner, c: number): Scan {
  if (c === ch('.')) {
    s.step = stateDot;
    return Scan.Continue;
  }
  if (c === ch('e') || c === ch('E')) {
    s.step = stateE;
    return Scan.Continue;
  }
  return stateEndValue(s, c);
}

function stateDot(s: JsonScanner, c: number): Scan {
  if (isDigit(c)) {
    s.step = stateDot0;
    return Scan.Continue;
  }
  return s.fail(c, 'after decimal point in numeric literal');
}

function stateDot0(s: JsonScanner, c: number): Scan {
  if (isDigit(c)) return Scan.Continue;
  if (c === ch('e') || c === ch('E')) {
    s.step = stateE;
    return Scan.Continue;
  }
  return stateEndValue(s, c);
}

function stateE(s: JsonScanner, c: number): Scan {
  if (c === ch('+') || c === ch('-')) {
    s.step = stateESign;
    return Scan.Continue;
  }
  return stateESign(s, c);
}

function stateESign(s: JsonScanner, c: number): Scan {
  if (isDigit(c)) {
    s.step = stateE0;
    return Scan.Continue;
  }
  return s.fail(c, 'in exponent of numeric literal');
}

function stateE0(s: JsonScanner, c: number): Scan {
  if (isDigit(c)) return Scan.Continue;
  return stateEndValue(s, c);
}

/** The rest of `true`, `false` or `null` after its first letter, one expected byte at a time. */
function literal(rest: string, word: string, index: number): Step {
  return (s, c) => {
    const expected = rest.charCodeAt(index);
    if (c !== expected) return s.fail(c, `in literal ${word} (expecting '${rest[index]}')`);
    s.step = index === rest.length - 1 ? stateEndValue : literal(rest, word, index + 1);
    return Scan.Continue;
  };
}

function stateError(): Scan {
  return Scan.Error;
}
