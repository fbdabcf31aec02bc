import { z } from 'zod';
import { errorMessage } from '../error-message.js';
import { type GoStruct, type GoType, goString, unmarshal } from '../go/json-decode.js';
import { type JsonNode, readFirstJsonValue } from '../go/json-value.js';

/**
 * The request bodies fleet accepted, decoded as its Go types were (`schema.Unit`,
 * `[]api.machineMetadataOp`), so that type errors read exactly as Go worded them, then
 * checked against zod schemas that give them their TypeScript types.
 */

export class BodyDecodeError extends Error {
  override name = 'BodyDecodeError';
}

const unitOptionType: GoStruct = {
  kind: 'struct',
  goName: 'schema.UnitOption',
  structName: 'UnitOption',
  fields: [
    { jsonName: 'name', property: 'name', type: goString },
    { jsonName: 'section', property: 'section', type: goString },
    { jsonName: 'value', property: 'value', type: goString },
  ],
};

const unitType: GoStruct = {
  kind: 'struct',
  goName: 'schema.Unit',
  structName: 'Unit',
  fields: [
    { jsonName: 'currentState', property: 'currentState', type: goString },
    { jsonName: 'desiredState', property: 'desiredState', type: goString },
    { jsonName: 'machineID', property: 'machineID', type: goString },
    { jsonName: 'name', property: 'name', type: goString },
    {
      jsonName: 'options',
      property: 'options',
      type: {
        kind: 'slice',
        goName: '[]*schema.UnitOption',
        elem: { kind: 'pointer', elem: unitOptionType },
      },
    },
  ],
};

const metadataOpType: GoStruct = {
  kind: 'struct',
  goName: 'api.machineMetadataOp',
  structName: 'machineMetadataOp',
  fields: [
    { jsonName: 'op', property: 'op', type: goString },
    { jsonName: 'Path', property: 'path', type: goString },
    {
      jsonName: 'Value',
      property: 'value',
      type: {
        kind: 'struct',
        goName: 'struct { Value string "json:\\"value\\"" }',
        structName: '',
        fields: [{ jsonName: 'value', property: 'value', type: goString }],
      },
    },
  ],
};

const metadataOpsType: GoType = {
  kind: 'slice',
  goName: '[]api.machineMetadataOp',
  elem: metadataOpType,
};

const unitOptionSchema = z.object({ name: z.string(), section: z.string(), value: z.string() });

/** A PUT body. A `null` option was a nil pointer that crashed fleet; it is refused here. */
export const unitBodySchema = z.object({
  currentState: z.string(),
  desiredState: z.string(),
  machineID: z.string(),
  name: z.string(),
  options: z
    .array(unitOptionSchema.nullable())
    .nullable()
    .transform((options, ctx) => {
      if (options?.some((option) => option === null)) {
        ctx.addIssue('options must not contain null');
        return z.NEVER;
      }
      return (options ?? []) as Array<z.infer<typeof unitOptionSchema>>;
    }),
});
export type UnitBody = z.infer<typeof unitBodySchema>;

export const metadataOpsSchema = z
  .array(z.object({ op: z.string(), path: z.string(), value: z.object({ value: z.string() }) }))
  .nullable()
  .transform((ops) => ops ?? []);
export type MetadataOp = z.infer<typeof metadataOpsSchema>[number];

/** The body as `json.NewDecoder(body).Decode(&unit)` filled it; `null` is an empty unit. */
export function decodeUnitBody(body: Uint8Array): UnitBody {
  return decodeAs(body, unitType, unitBodySchema);
}

/**
 * The batch body `{"units":[…]}`: the list of units as JSON values, each to be decoded as a
 * PUT body by `decodeUnitNode`, so that each unit's mistakes read as they would alone.
 */
export function decodeBatchUnits(body: Uint8Array): JsonNode[] {
  const first = readFirstJsonValue(body);
  if (!first.ok) throw new BodyDecodeError(first.message);
  const parsed = batchNodeSchema.safeParse(first.value);
  if (!parsed.success) throw new BodyDecodeError('batch body must be {"units":[…]}');
  // As in Go, a member given twice counts with its last value.
  const units = [...parsed.data.members].reverse().find(([key]) => key === 'units')?.[1];
  const list = batchListSchema.safeParse(units);
  if (!list.success) throw new BodyDecodeError('batch body must be {"units":[…]}');
  return list.data.items;
}

const jsonNodeSchema = z.custom<JsonNode>((value) => typeof value === 'object' && value !== null);
const batchNodeSchema = z.object({
  kind: z.literal('object'),
  members: z.array(z.tuple([z.string(), jsonNodeSchema])),
});
const batchListSchema = z.object({ kind: z.literal('array'), items: z.array(jsonNodeSchema) });

/** One unit of a batch, decoded as `decodeUnitBody` decodes a whole PUT body. */
export function decodeUnitNode(node: JsonNode): UnitBody {
  return unmarshalAs(node, unitType, unitBodySchema);
}

/** The PATCH body as `[]machineMetadataOp`; `null` is no operations. */
export function decodeMetadataOps(body: Uint8Array): MetadataOp[] {
  return decodeAs(body, metadataOpsType, metadataOpsSchema);
}

function decodeAs<T>(body: Uint8Array, type: GoType, schema: z.ZodType<T>): T {
  const first = readFirstJsonValue(body);
  if (!first.ok) throw new BodyDecodeError(first.message);
  return unmarshalAs(first.value, type, schema);
}

function unmarshalAs<T>(node: JsonNode, type: GoType, schema: z.ZodType<T>): T {
  let decoded: unknown;
  try {
    decoded = unmarshal(node, type);
  } catch (err) {
    throw new BodyDecodeError(errorMessage(err));
  }
  const parsed = schema.safeParse(decoded);
  if (!parsed.success) throw new BodyDecodeError(parsed.error.issues[0]?.message ?? 'invalid body');
  return parsed.data;
}
