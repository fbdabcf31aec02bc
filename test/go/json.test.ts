import { describe, expect, it } from 'vitest';
import {
  BodyDecodeError,
  decodeMetadataOps,
  decodeUnitBody,
} from '../../src/api/request-bodies.js';
import { GoMap, goJsonEncode } from '../../src/go/json-encode.js';
import { readFirstJsonValue } from '../../src/go/json-value.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

function decodeError(decode: (body: Uint8Array) => unknown, body: string): string {
  try {
    decode(bytes(body));
  } catch (err) {
    if (err instanceof BodyDecodeError) return err.message;
    throw err;
  }
  throw new Error(`${JSON.stringify(body)} decoded`);
}

describe("Go's json.Decoder on a request body", () => {
  it.each([
    ['', 'EOF'],
    [' \n\t ', 'EOF'],
    ['[{"op":', 'unexpected EOF'],
    ['{"a"', 'unexpected EOF'],
    ['tru', 'unexpected EOF'],
    ['nope', "invalid character 'o' in literal null (expecting 'u')"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b"}', `invalid character '"' after object key:value pair`],
    ['[1 2]', "invalid character '2' after array element"],
    ['{1:2}', "invalid character '1' looking for beginning of object key string"],
    ['x', "invalid character 'x' looking for beginning of value"],
    ['"\u0001"', "invalid character '\\x01' in string literal"],
    ['"\\q"', "invalid character 'q' in string escape code"],
    ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
    ['-a', "invalid character 'a' in numeric literal"],
    ['1.e', "invalid character 'e' after decimal point in numeric literal"],
    ['1e+x', "invalid character 'x' in exponent of numeric literal"],
    ["{'a':1}", "invalid character '\\'' looking for beginning of object key string"],
    ['\u00e9', "invalid character 'Ã' looking for beginning of value"],
  ])('reports %j as %j', (body, message) => {
    const first = readFirstJsonValue(bytes(body));
    expect(first).toEqual({ ok: false, message });
  });

  it.each([
    ['{"desiredState":"inactive"} trailing', 'inactive'],
    ['{"desiredState":"inactive"}{"desiredState":"x"}', 'inactive'],
    ['  {"desiredState":"loaded"}\n', 'loaded'],
    ['{"DesiredState":"launched"}', 'launched'],
    ['{"DESIREDSTATE":"launched","desiredState":null}', 'launched'],
    ['{"desiredState":"a","DesiredState":"b","desiredState":"c"}', 'c'],
    ['{"desiredState":"inactive","bogusField":1}', 'inactive'],
    ['null', ''],
  ])('decodes %j as a unit with desired state %j', (body, desiredState) => {
    expect(decodeUnitBody(bytes(body)).desiredState).toBe(desiredState);
  });

  it('ignores what follows a complete top-level number, as Go stops before it', () => {
    expect(decodeError(decodeUnitBody, '01')).toBe(
      'json: cannot unmarshal number into Go value of type schema.Unit',
    );
  });

  it('decodes escapes, surrogate pairs and invalid UTF-8 as Go does', () => {
    const unit = decodeUnitBody(
      Buffer.concat([
        bytes('{"name":"a\\u00e9\\ud83d\\ude00\\ud800x\\n'),
        Buffer.from([0xff, 0xe2, 0x82]),
        bytes('"}'),
      ]),
    );
    expect(unit.name).toBe('aé😀\ufffdx\n\ufffd\ufffd\ufffd');
  });

  it('merges a repeated options member into the options already decoded', () => {
    const unit = decodeUnitBody(
      bytes('{"options":[{"name":"a"}],"options":[{"section":"b","value":"c"}]}'),
    );
    expect(unit.options).toEqual([{ name: 'a', section: 'b', value: 'c' }]);
  });

  it.each([
    [
      '{"options":"x"}',
      'json: cannot unmarshal string into Go struct field Unit.options of type []*schema.UnitOption',
    ],
    [
      '{"options":{}}',
      'json: cannot unmarshal object into Go struct field Unit.options of type []*schema.UnitOption',
    ],
    [
      '{"options":[1]}',
      'json: cannot unmarshal number into Go struct field Unit.options of type schema.UnitOption',
    ],
    [
      '{"options":[{"name":true}]}',
      'json: cannot unmarshal bool into Go struct field UnitOption.options.name of type string',
    ],
    [
      '{"name":["a"]}',
      'json: cannot unmarshal array into Go struct field Unit.name of type string',
    ],
    ['[]', 'json: cannot unmarshal array into Go value of type schema.Unit'],
    ['"unit"', 'json: cannot unmarshal string into Go value of type schema.Unit'],
    ['{"options":[null]}', 'options must not contain null'],
  ])('refuses unit body %j with %j', (body, message) => {
    expect(decodeError(decodeUnitBody, body)).toBe(message);
  });

  it.each([
    [
      '[{"op":"add","path":"/m/metadata/k","value":"bare"}]',
      'json: cannot unmarshal string into Go struct field machineMetadataOp.Value of type struct { Value string "json:\\"value\\"" }',
    ],
    ['{"op":"add"}', 'json: cannot unmarshal object into Go value of type []api.machineMetadataOp'],
    ['[1]', 'json: cannot unmarshal number into Go value of type api.machineMetadataOp'],
    [
      '[{"path":1}]',
      'json: cannot unmarshal number into Go struct field machineMetadataOp.Path of type string',
    ],
    [
      '[{"value":{"value":1}}]',
      'json: cannot unmarshal number into Go struct field .Value.value of type string',
    ],
  ])('refuses metadata body %j with %j', (body, message) => {
    expect(decodeError(decodeMetadataOps, body)).toBe(message);
  });

  it('decodes metadata operations with case-insensitive member names, and null as none', () => {
    expect(
      decodeMetadataOps(bytes('[{"OP":"add","path":"/m/metadata/k","VALUE":{"Value":"v"}}]')),
    ).toEqual([{ op: 'add', path: '/m/metadata/k', value: { value: 'v' } }]);
    expect(decodeMetadataOps(bytes('null'))).toEqual([]);
    expect(decodeMetadataOps(bytes('[null]'))).toEqual([
      { op: '', path: '', value: { value: '' } },
    ]);
  });
});

describe("Go's json.Marshal of API entities", () => {
  it('escapes &, <, >, U+2028 and U+2029, and control characters the way Go 1.19 did', () => {
    expect(goJsonEncode('a & b <c> "q" \\ \n\r\t\b\f\u0001\u007f\u2028\u2029 ünï ✓')).toBe(
      '"a \\u0026 b \\u003cc\\u003e \\"q\\" \\\\ \\n\\r\\t\\u0008\\u000c\\u0001\u007f\\u2028\\u2029 ünï ✓"',
    );
  });

  it('replaces unpaired surrogates, which Go strings cannot hold, with U+FFFD', () => {
    expect(goJsonEncode('a\ud800b\udc00c😀')).toBe('"a\ufffdb\ufffdc😀"');
  });

  it('leaves out undefined members and keeps the given member order', () => {
    expect(goJsonEncode({ b: 1, a: undefined, c: [true, null] })).toBe('{"b":1,"c":[true,null]}');
  });

  it('sorts map keys bytewise, numbers-looking keys included', () => {
    expect(goJsonEncode(new GoMap({ b: '1', '9': '2', '10': '3', A: '4', é: '5', z: '6' }))).toBe(
      '{"10":"3","9":"2","A":"4","b":"1","z":"6","é":"5"}',
    );
  });
});
