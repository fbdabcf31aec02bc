import { describe, expect, it } from 'vitest';
import {
  MAX_BATCH_BODY_BYTES as SERVER_MAX_BYTES,
  MAX_BATCH_UNITS as SERVER_MAX_UNITS,
} from '../../src/api/routes/batch.js';
import type { ApiUnit } from '../../src/api/schema.js';
import { googleApiError } from '../../src/client/googleapi-error.js';
import { ResponseShapeError } from '../../src/client/response-schemas.js';
import {
  batchBody,
  batchResultsSchema,
  exceedsBatchLimits,
  MAX_BATCH_BODY_BYTES,
  MAX_BATCH_UNITS,
  splitBatches,
  unitResultError,
} from '../../src/client/unit-batch.js';
import { goJsonEncode } from '../../src/go/json-encode.js';

function unit(name: string, bytes = 0): ApiUnit {
  return {
    name,
    options: [{ section: 'Service', name: 'ExecStart', value: `/bin/echo ${'x'.repeat(bytes)}` }],
  };
}

describe('splitting the units of a batch', () => {
  it('uses the limits the batch route enforces', () => {
    expect(MAX_BATCH_UNITS).toBe(SERVER_MAX_UNITS);
    expect(MAX_BATCH_BODY_BYTES).toBe(SERVER_MAX_BYTES);
  });

  it('cuts 2,500 small units into batches of 1,000, 1,000 and 500, keeping their order', () => {
    const units = Array.from({ length: 2500 }, (_, i) => unit(`web@${i}.service`));
    const batches = splitBatches(units);
    expect(batches.map((batch) => batch.length)).toEqual([1000, 1000, 500]);
    expect(batches.flat()).toEqual(units);
  });

  it('cuts by the encoded body size, each body within 8 MiB and as full as it can be', () => {
    // 1 MiB of unit file each: eight of them (and their framing) exceed 8 MiB.
    const units = Array.from({ length: 20 }, (_, i) => unit(`big${i}.service`, 1024 * 1024 - 64));
    const batches = splitBatches(units);
    expect(batches.flat()).toEqual(units);
    for (const batch of batches) {
      expect(Buffer.byteLength(batchBody(batch))).toBeLessThanOrEqual(MAX_BATCH_BODY_BYTES);
      expect(exceedsBatchLimits(batch)).toBe(false);
    }
    for (const [index, batch] of batches.slice(0, -1).entries()) {
      const withNext = [...batch, batches[index + 1]![0]!];
      expect(Buffer.byteLength(batchBody(withNext))).toBeGreaterThan(MAX_BATCH_BODY_BYTES);
    }
    expect(batches.map((batch) => batch.length)).toEqual([7, 7, 6]);
  });

  it('counts the body as sent, with Go escaping that makes it longer', () => {
    // `<` is sent as \u003c: six bytes for one character.
    const escaped = (name: string) => ({
      ...unit(name),
      options: [{ section: 'Service', name: 'ExecStart', value: '<'.repeat(1.4 * 1024 * 1024) }],
    });
    const units = [escaped('a.service'), escaped('b.service')];
    expect(Buffer.byteLength(goJsonEncode(units[0]))).toBeGreaterThan(MAX_BATCH_BODY_BYTES);
    expect(splitBatches(units)).toEqual([[units[0]], [units[1]]]);
    expect(exceedsBatchLimits([units[0]!])).toBe(true);
  });

  it('gives nothing for no units', () => {
    expect(splitBatches([])).toEqual([]);
  });
});

describe("a batch's answer", () => {
  it('needs one result per unit sent', () => {
    const body = { results: [{ name: 'a.service', status: 201 }] };
    expect(batchResultsSchema(body, 1)).toEqual([{ name: 'a.service', status: 201 }]);
    expect(() => batchResultsSchema(body, 2)).toThrow(ResponseShapeError);
    expect(() => batchResultsSchema({ results: [{ name: 'a.service' }] }, 1)).toThrow(
      'results.0.status: expected integer',
    );
  });

  it("maps each unit's refusal onto the error its own PUT would have thrown", () => {
    const cases = [
      { status: 409, message: 'unit does not exist and options field empty' },
      { status: 400, message: 'cannot activate template "hello@.service"' },
      { status: 500, message: '' },
    ];
    for (const { status, message } of cases) {
      const error = unitResultError({
        name: 'x.service',
        status,
        error: { code: status, message },
      });
      // The PUT's answer: fleet's error body, as the API sends it.
      const own = googleApiError(status, goJsonEncode({ error: { code: status, message } }));
      expect(error?.message).toBe(own.message);
      expect(error).toMatchObject({ status, code: status, apiMessage: message });
    }
    expect(
      unitResultError({ name: 'x.service', status: 500, error: { code: 500, message: '' } })
        ?.message,
    ).toBe('googleapi: got HTTP response code 500 with body: {"error":{"code":500,"message":""}}');
    expect(unitResultError({ name: 'x.service', status: 201 })).toBeNull();
    expect(unitResultError({ name: 'x.service', status: 204 })).toBeNull();
  });
});
