import type { JsonNode } from './json-value.js';

/**
 * Go's `json.Unmarshal` into the few Go types fleet decoded request bodies into, with its
 * semantics (unknown members ignored, member names matched case-insensitively when no exact
 * match exists, `null` leaving a value untouched, decoding into the value already there) and
 * its `UnmarshalTypeError` text, which reaches API clients verbatim.
 */

/** A Go type as `encoding/json` sees it; `goName` is what `reflect.Type.String()` prints. */
export type GoType = GoString | GoStruct | GoSlice | GoPointer;

export interface GoString {
  kind: 'string';
  goName: 'string';
}

export interface GoStruct {
  kind: 'struct';
  goName: string;
  /** `reflect.Type.Name()`: empty for an anonymous struct. */
  structName: string;
  fields: readonly GoField[];
}

export interface GoField {
  /** The member name: the `json` tag's name, else the Go field name. */
  jsonName: string;
  /** Where the decoded value is kept in our JavaScript object. */
  property: string;
  type: GoType;
}

export interface GoSlice {
  kind: 'slice';
  goName: string;
  elem: GoType;
}

export interface GoPointer {
  kind: 'pointer';
  elem: GoType;
}

export const goString: GoString = { kind: 'string', goName: 'string' };

export class GoUnmarshalTypeError extends Error {
  override name = 'GoUnmarshalTypeError';
}

/** Where in the document decoding is, as Go's `errorContext` tracks it. */
interface ErrorContext {
  structName: string | null;
  fields: readonly string[];
}

/**
 * Decodes `node` into a fresh zero value of `type`; throws GoUnmarshalTypeError with Go's
 * message for the first mismatch Go would have reported.
 */
export function unmarshal(node: JsonNode, type: GoType): unknown {
  return decode(node, type, zeroValue(type), { structName: null, fields: [] });
}

function zeroValue(type: GoType): unknown {
  switch (type.kind) {
    case 'string':
      return '';
    case 'slice':
    case 'pointer':
      return null;
    case 'struct':
      return Object.fromEntries(
        type.fields.map((field) => [field.property, zeroValue(field.type)]),
      );
  }
}

function decode(node: JsonNode, type: GoType, current: unknown, context: ErrorContext): unknown {
  if (node.kind === 'null') {
    // null clears pointers and slices; other values keep what they had.
    return type.kind === 'pointer' || type.kind === 'slice' ? null : current;
  }
  if (type.kind === 'pointer') {
    return decode(node, type.elem, current ?? zeroValue(type.elem), context);
  }
  switch (type.kind) {
    case 'string':
      if (node.kind === 'string') return node.value;
      throw typeError(node, type, context);
    case 'slice': {
      if (node.kind !== 'array') throw typeError(node, type, context);
      // Go reuses the elements already there, so a repeated member merges into them.
      const existing = (current as unknown[] | null) ?? [];
      return node.items.map((item, index) =>
        decode(item, type.elem, existing[index] ?? zeroValue(type.elem), context),
      );
    }
    case 'struct': {
      if (node.kind !== 'object') throw typeError(node, type, context);
      const result = { ...(current as Record<string, unknown>) };
      for (const [key, value] of node.members) {
        const field = findField(type, key);
        if (field === undefined) continue;
        result[field.property] = decode(value, field.type, result[field.property], {
          structName: type.structName,
          fields: [...context.fields, field.jsonName],
        });
      }
      return result;
    }
  }
}

/** An exact name match wins; otherwise Go's case folding, where `K` (Kelvin) and `ſ` fold too. */
function findField(type: GoStruct, key: string): GoField | undefined {
  const exact = type.fields.find((field) => field.jsonName === key);
  if (exact !== undefined) return exact;
  const folded = foldKey(key);
  return type.fields.find((field) => foldKey(field.jsonName) === folded);
}

function foldKey(key: string): string {
  return key
    .replace(/\u212a/g, 'k')
    .replace(/\u017f/g, 's')
    .replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function typeError(
  node: JsonNode,
  type: Exclude<GoType, GoPointer>,
  context: ErrorContext,
): GoUnmarshalTypeError {
  const value = node.kind;
  const target = type.goName;
  if (context.structName === null && context.fields.length === 0) {
    return new GoUnmarshalTypeError(
      `json: cannot unmarshal ${value} into Go value of type ${target}`,
    );
  }
  return new GoUnmarshalTypeError(
    `json: cannot unmarshal ${value} into Go struct field ${context.structName ?? ''}.${context.fields.join('.')} of type ${target}`,
  );
}
