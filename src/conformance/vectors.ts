import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { jobRequirements, unrecognizedRequirements } from '../job/requirements.js';
import { validateUnitOptions } from '../job/validate-options.js';
import { UnitFileParseError } from '../unit/deserialize.js';
import {
  isRecognizedUnitType,
  mangleUnitArgument,
  unitNameInfo,
  validateUnitName,
} from '../unit/name.js';
import { UnitFile } from '../unit/unit-file.js';

const optionSchema = z.object({ section: z.string(), name: z.string(), value: z.string() });

const jobSchema = z.object({
  global: z.boolean(),
  conflicts: z.array(z.string()),
  peers: z.array(z.string()),
  replaces: z.array(z.string()),
  requiredTarget: z.string().nullable(),
  requiredMetadata: z.record(z.string(), z.array(z.string())),
  unrecognizedRequirements: z.array(z.string()),
});

const parsedUnitSchema = z.object({
  error: z.null(),
  options: z.array(optionSchema),
  serialized: z.string(),
  hash: z.string(),
  hashShort: z.string(),
  description: z.string(),
  contents: z.record(z.string(), z.record(z.string(), z.array(z.string()))),
  job: jobSchema,
  validateOptions: z.string().nullable(),
});

const unitExpectationSchema = z.union([z.object({ error: z.string() }).strict(), parsedUnitSchema]);

const nameInfoSchema = z.object({
  fullName: z.string(),
  name: z.string(),
  prefix: z.string(),
  instance: z.string(),
  template: z.string(),
  isInstance: z.boolean(),
  isTemplate: z.boolean(),
});

const vectorSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('unitfile'),
    id: z.string(),
    note: z.string().optional(),
    input: z.object({ name: z.string(), contents: z.string() }),
    expected: unitExpectationSchema,
  }),
  z.object({
    kind: z.literal('options'),
    id: z.string(),
    note: z.string().optional(),
    input: z.object({ name: z.string(), options: z.array(optionSchema) }),
    expected: unitExpectationSchema,
  }),
  z.object({
    kind: z.literal('unitname'),
    id: z.string(),
    note: z.string().optional(),
    input: z.string(),
    expected: z.object({
      valid: z.boolean(),
      validateNameError: z.string().nullable(),
      nameInfo: nameInfoSchema.nullable(),
      recognizedUnitType: z.boolean(),
      fleetctlMangled: z.string(),
    }),
  }),
]);

export const vectorFileSchema = z.array(vectorSchema);
export type Vector = z.infer<typeof vectorSchema>;

/** One field whose computed value differs from the recorded one. */
export interface Mismatch {
  field: string;
  expected: unknown;
  actual: unknown;
}

/** Values whose order the original does not define (Go maps and sets) are compared sorted. */
function sortedRecord<T>(entries: Iterable<[string, T]>): Record<string, T> {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function describeUnit(name: string, unit: UnitFile) {
  const requirements = jobRequirements(name, unit);
  return {
    error: null,
    options: unit.options,
    serialized: unit.serialized,
    hash: unit.hash,
    hashShort: unit.hashShort,
    description: unit.description,
    contents: sortedRecord(
      [...unit.contents].map(([section, keys]) => [section, sortedRecord(keys)] as const),
    ),
    job: {
      global: requirements.global,
      conflicts: requirements.conflicts,
      peers: requirements.peers,
      replaces: requirements.replaces,
      requiredTarget: requirements.machineID,
      requiredMetadata: sortedRecord(
        [...requirements.metadata].map(([key, values]) => [key, [...values].sort()] as const),
      ),
      unrecognizedRequirements: unrecognizedRequirements(unit),
    },
    validateOptions: validateUnitOptions(unit.options),
  };
}

function evaluate(vector: Vector): unknown {
  switch (vector.kind) {
    case 'unitfile': {
      let unit: UnitFile;
      try {
        unit = UnitFile.parse(vector.input.contents);
      } catch (err) {
        if (err instanceof UnitFileParseError) return { error: err.message };
        throw err;
      }
      return describeUnit(vector.input.name, unit);
    }
    case 'options':
      return describeUnit(vector.input.name, new UnitFile(vector.input.options));
    case 'unitname': {
      const error = validateUnitName(vector.input);
      return {
        valid: error === null,
        validateNameError: error,
        nameInfo: unitNameInfo(vector.input),
        recognizedUnitType: isRecognizedUnitType(vector.input),
        fleetctlMangled: mangleUnitArgument(vector.input),
      };
    }
  }
}

function normaliseExpected(vector: Vector): unknown {
  if (vector.kind === 'unitname' || vector.expected.error !== null) return vector.expected;
  const expected = vector.expected;
  return {
    ...expected,
    contents: sortedRecord(
      Object.entries(expected.contents).map(([section, keys]) => [
        section,
        sortedRecord(Object.entries(keys)),
      ]),
    ),
    job: {
      ...expected.job,
      requiredMetadata: sortedRecord(
        Object.entries(expected.job.requiredMetadata).map(([key, values]) => [
          key,
          [...values].sort(),
        ]),
      ),
    },
  };
}

/** Compares every recorded field of one vector with what this project computes. */
export function checkVector(vector: Vector): Mismatch[] {
  const expected = normaliseExpected(vector) as Record<string, unknown>;
  const actual = evaluate(vector) as Record<string, unknown>;
  const mismatches: Mismatch[] = [];
  const fields = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const field of fields) {
    const want = expected[field];
    const got = actual[field];
    if (field === 'job' && want !== undefined && got !== undefined) {
      const wantJob = want as Record<string, unknown>;
      const gotJob = got as Record<string, unknown>;
      for (const key of Object.keys(wantJob)) {
        if (!isDeepStrictEqual(wantJob[key], gotJob[key])) {
          mismatches.push({ field: `job.${key}`, expected: wantJob[key], actual: gotJob[key] });
        }
      }
    } else if (!isDeepStrictEqual(JSON.parse(JSON.stringify(want ?? null)), toPlain(got))) {
      mismatches.push({ field, expected: want, actual: got });
    }
  }
  return mismatches;
}

function toPlain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? null));
}
