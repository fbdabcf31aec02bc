/**
 * The cases of `PUT /fleet/v1/units/<name>` that a unit of a batch can also express, with
 * the status and message fleet answered: test/api/batch.test.ts drives each through both
 * paths and holds them to the same outcome.
 */

export const OPTIONS = [
  { section: 'Unit', name: 'Description', value: 'api a' },
  { section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' },
];

/** What exists before the case: nothing, a unit with `OPTIONS`, or a launched template. */
export type Setup = 'empty' | 'existing' | 'template';

export interface PutCase {
  title: string;
  setup: Setup;
  name: string;
  /** The body as JSON text: an object, sent as the PUT body, or as the unit in a batch. */
  body: string;
  status: 201 | 204 | 400 | 409;
  message?: string;
}

const json = (value: unknown) => JSON.stringify(value);

const invalidNames: Array<[string, string]> = [
  ['api-bad', 'unit name must contain "."'],
  ['api-bad.txt', 'invalid unit type: "txt"'],
  ['api bad.service', "invalid character ' ' in unit name"],
  ['api-bad@.mount', 'invalid unit type for template: "mount"'],
  ['@api.service', 'unit name cannot start in "@"'],
  ['a.', 'unit name cannot end in "."'],
  [`${'a'.repeat(250)}.service`, 'unit name exceeds maximum length (256)'],
  [`${'a'.repeat(248)}.service`, 'unit name exceeds maximum file name length (255 bytes)'],
];

const invalidOptions: Array<[string, unknown[]]> = [
  [
    'MachineID cannot be used with Global',
    [
      ...OPTIONS,
      { section: 'X-Fleet', name: 'MachineID', value: 'abc' },
      { section: 'X-Fleet', name: 'Global', value: 'true' },
    ],
  ],
  [
    'unresolvable requirements: peer "x.service" matches conflict "x*"',
    [
      { section: 'X-Fleet', name: 'MachineOf', value: 'x.service' },
      { section: 'X-Fleet', name: 'Conflicts', value: 'x*' },
    ],
  ],
  [
    'line too long (max 2048 bytes)',
    [{ section: 'Service', name: 'ExecStart', value: 'x'.repeat(3000) }],
  ],
  ['found garbage after section name : [66 93]', [{ section: 'A]B', name: 'Foo', value: 'bar' }]],
];

const other = [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }];

export const PUT_CASES: PutCase[] = [
  {
    title: 'a body whose options are not a list',
    setup: 'empty',
    name: 'a.service',
    body: '{"options":"x"}',
    status: 400,
    message:
      'unable to decode body: json: cannot unmarshal string into Go struct field Unit.options of type []*schema.UnitOption',
  },
  {
    title: 'a null option',
    setup: 'empty',
    name: 'a.service',
    body: '{"options":[null]}',
    status: 400,
    message: 'unable to decode body: options must not contain null',
  },
  ...invalidNames.map(
    ([name, message]): PutCase => ({
      title: `the unit name ${name.slice(0, 20)}`,
      setup: 'empty',
      name,
      body: json({ options: OPTIONS, desiredState: 'launched' }),
      status: 400,
      message,
    }),
  ),
  {
    title: 'a create, inactive unless told otherwise',
    setup: 'empty',
    name: 'a.service',
    body: json({ options: OPTIONS }),
    status: 201,
  },
  {
    title: 'a create, launched',
    setup: 'empty',
    name: 'b.service',
    body: json({ options: OPTIONS, desiredState: 'launched' }),
    status: 201,
  },
  {
    title: 'the longest name a unit file can have',
    setup: 'empty',
    name: `${'a'.repeat(247)}.service`,
    body: json({ options: OPTIONS }),
    status: 201,
  },
  ...[json({ desiredState: 'launched' }), json({ options: [], desiredState: 'launched' })].map(
    (body): PutCase => ({
      title: `a create without options: ${body}`,
      setup: 'empty',
      name: 'a.service',
      body,
      status: 409,
      message: 'unit does not exist and options field empty',
    }),
  ),
  ...invalidOptions.map(
    ([message, options]): PutCase => ({
      title: `a create with invalid options: ${message}`,
      setup: 'empty',
      name: 'a.service',
      body: json({ options }),
      status: 400,
      message,
    }),
  ),
  {
    title: 'a create with a desired state that is not one',
    setup: 'empty',
    name: 'a.service',
    body: json({ options: OPTIONS, desiredState: 'running' }),
    status: 400,
    message: 'invalid value "running" for JobState',
  },
  {
    title: 'a desired-state change',
    setup: 'existing',
    name: 'a.service',
    body: json({ desiredState: 'loaded' }),
    status: 204,
  },
  {
    title: 'identical options with a desired state',
    setup: 'existing',
    name: 'a.service',
    body: json({ options: OPTIONS, desiredState: 'launched' }),
    status: 204,
  },
  {
    title: 'identical options without a desired state',
    setup: 'existing',
    name: 'a.service',
    body: json({ options: OPTIONS }),
    status: 409,
    message: 'must provide DesiredState to update existing unit',
  },
  {
    title: 'nothing to change',
    setup: 'existing',
    name: 'a.service',
    body: '{}',
    status: 409,
    message: 'must provide DesiredState to update existing unit',
  },
  {
    title: 'a desired state that is not one, on an existing unit',
    setup: 'existing',
    name: 'a.service',
    body: json({ desiredState: 'running' }),
    status: 400,
    message: 'invalid value "running" for JobState',
  },
  {
    title: 'a replacement with invalid options (not validated, as fleet did)',
    setup: 'existing',
    name: 'a.service',
    body: json({ options: invalidOptions[0]![1] }),
    status: 201,
  },
  {
    title: 'a replacement with a desired state',
    setup: 'existing',
    name: 'a.service',
    body: json({ options: other, desiredState: 'loaded' }),
    status: 201,
  },
  {
    title: 'a replacement with a desired state that is not one',
    setup: 'existing',
    name: 'a.service',
    body: json({ options: other, desiredState: 'running' }),
    status: 400,
    message: 'invalid value "running" for JobState',
  },
  {
    title: 'unknown members and case-insensitive names, as Go decoded them',
    setup: 'existing',
    name: 'a.service',
    body: '{"DesiredState":"launched","bogusField":1}',
    status: 204,
  },
  ...['launched', 'loaded', 'running'].map(
    (desiredState): PutCase => ({
      title: `activating a template: ${desiredState}`,
      setup: 'template',
      name: 't@.service',
      body: json({ desiredState }),
      status: 400,
      message: 'cannot activate template "t@.service"',
    }),
  ),
  {
    title: 'a template made inactive',
    setup: 'template',
    name: 't@.service',
    body: json({ desiredState: 'inactive' }),
    status: 204,
  },
];

/** The case's body as a unit of a batch: the same members, with the name. */
export function batchEntryText(name: string, body: string): string {
  const rest = body.trim().slice(1);
  return `{"name":${JSON.stringify(name)}${rest.startsWith('}') ? '' : ','}${rest}`;
}
