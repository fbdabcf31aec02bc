// The machines resource of the HTTP API, as fleet's machines_test.go drove it: raw HTTP against
// a member's TCP listener (fleet-tcp.socket, port 54728), here with curl from the harness
// network namespace, on a cluster of two real systemd machines. Status codes, Content-Type and
// bodies are those of the original's recorded answers
// (test/fixtures/conformance/api-golden.json).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  type ClusterMachine,
  ensureFreshBuild,
  FLEET_TCP_PORT,
} from '../../cluster/index.js';
import { harnessUnavailable, runInNamespace, teardown } from '../../harness/index.js';
import { PACKAGE_VERSION } from '../fleetctl/fixtures.js';
import { expectNoLeftovers } from '../fleetd/units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

type Metadata = Record<string, string>;

interface HttpResponse {
  status: number;
  /** Header name (lower case) → every value it was sent with. */
  headers: Map<string, string[]>;
  body: string;
}

/** One operation of a PATCH body, marshalled as fleet's test marshalled its Go struct. */
interface MetadataOp {
  op: string;
  path: string;
  value: string;
}

/**
 * fleet's test type had no JSON tag on its `Value ValueType` field, so the key went out as
 * `Value` (Go's decoder matches keys case-insensitively); the inner one was tagged `value`.
 */
function patchBody(ops: readonly MetadataOp[]): string {
  return JSON.stringify(ops.map((o) => ({ op: o.op, path: o.path, Value: { value: o.value } })));
}

function errorBody(code: number, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

function parseCurl(raw: string): HttpResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no HTTP header in curl's output: ${raw.slice(0, 500)}`);
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine)?.[1]);
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status, headers, body: raw.slice(end + 4) };
}

describe.skipIf(unavailable !== undefined)('the machines resource over TCP', () => {
  let cluster: Cluster;

  /**
   * curl in the harness netns against a member's TCP API. Like Go's http.NewRequest, a body goes
   * out with no Content-Type (curl would add a form type) and no `Expect: 100-continue`.
   */
  async function http(
    method: string,
    m: ClusterMachine,
    path: string,
    body?: string,
  ): Promise<HttpResponse> {
    const argv = ['curl', '-sS', '-i', '--max-time', '10', '-X', method];
    if (body !== undefined)
      argv.push('-H', 'Content-Type:', '-H', 'Expect:', '--data-binary', '@-');
    argv.push(`http://${m.ip}:${FLEET_TCP_PORT}${path}`);
    const r = await runInNamespace(cluster.network, argv, {
      timeoutMs: 15_000,
      ...(body !== undefined && { input: body }),
    });
    if (r.code !== 0) throw new Error(`curl ${method} ${path}: exit ${r.code}: ${r.stderr}`);
    return parseCurl(r.stdout);
  }

  /** fleet's checkContentType, made exact: one Content-Type, application/json. */
  function expectJsonResponse(res: HttpResponse): void {
    expect(res.headers.get('content-type')).toEqual(['application/json']);
    expect(res.headers.get('server')).toEqual([`fleetd/${PACKAGE_VERSION}`]);
  }

  /** What GET /fleet/v1/machines must answer: machines by ID, compact JSON, sorted metadata. */
  function machinesPage(metadata: (m: ClusterMachine) => Metadata): string {
    const machines = cluster
      .live()
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((m) => {
        const md = metadata(m);
        const sorted = Object.fromEntries(
          Object.keys(md)
            .sort()
            .map((k) => [k, md[k]]),
        );
        return { id: m.id, metadata: sorted, primaryIP: m.ip };
      });
    return JSON.stringify({ machines });
  }

  const onlyHostname = (m: ClusterMachine) => ({ hostname: m.name });

  async function expectMachines(
    via: ClusterMachine,
    metadata: (m: ClusterMachine) => Metadata,
  ): Promise<void> {
    const res = await http('GET', via, '/fleet/v1/machines');
    expect(res.status, res.body).toBe(200);
    expectJsonResponse(res);
    expect(res.body).toBe(machinesPage(metadata));
  }

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'api-machines', machines: 2 });
  });

  afterEach(async () => {
    if (cluster === undefined || cluster.network.record.destroyed) return;
    // Metadata set through the API outlives the request: back to each machine's own.
    await cluster.etcdctl(['del', '--prefix', cluster.keys.allMachineMetadataPrefix]);
  });

  afterAll(async () => {
    await teardown();
  });

  it('TestMachinesList: GET /fleet/v1/machines answers 200 with application/json and every machine', async () => {
    for (const via of cluster.live()) await expectMachines(via, onlyHostname);
  });

  it('TestMachinesListBadNextPageToken: a token of another page size is refused with 400', async () => {
    // EwBMLg== decodes to limit 19, page 11820; the server's limit is 100.
    const res = await http(
      'GET',
      cluster.machine('m1'),
      '/fleet/v1/machines?nextPageToken=EwBMLg==',
    );
    expect(res.status).toBe(400);
    expectJsonResponse(res);
    expect(res.body).toBe(errorBody(400, 'token limit must be 100'));
  });

  it('TestMachinesPatchAddModify: add and replace set metadata, which every member then lists', async () => {
    const [m1, m2] = [cluster.machine('m1'), cluster.machine('m2')];
    await expectMachines(m1, onlyHostname);
    const res = await http(
      'PATCH',
      m1,
      '/fleet/v1/machines',
      patchBody([
        { op: 'add', path: `/${m1.id}/metadata/foo`, value: 'bar' },
        { op: 'replace', path: `/${m2.id}/metadata/ping`, value: 'splat' },
      ]),
    );
    expect(res.status, res.body).toBe(204);
    expectJsonResponse(res);
    expect(res.body).toBe('');
    const expected = (m: ClusterMachine): Metadata =>
      m === m1 ? { foo: 'bar', hostname: m.name } : { hostname: m.name, ping: 'splat' };
    await expectMachines(m1, expected);
    await expectMachines(m2, expected);

    // replace on an existing key changes it; add on one is no error either.
    const again = await http(
      'PATCH',
      m2,
      '/fleet/v1/machines',
      patchBody([
        { op: 'replace', path: `/${m1.id}/metadata/foo`, value: 'baz' },
        { op: 'add', path: `/${m2.id}/metadata/ping`, value: 'pong' },
      ]),
    );
    expect(again.status, again.body).toBe(204);
    await expectMachines(
      m1,
      (m): Metadata =>
        m === m1 ? { foo: 'baz', hostname: m.name } : { hostname: m.name, ping: 'pong' },
    );
  });

  it('TestMachinesPatchDelete: remove answers 204, and removed keys are no longer listed', async () => {
    const [m1, m2] = [cluster.machine('m1'), cluster.machine('m2')];
    await expectMachines(m1, onlyHostname);
    // As fleet's test: keys that were never set.
    const res = await http(
      'PATCH',
      m1,
      '/fleet/v1/machines',
      patchBody([
        { op: 'remove', path: `/${m1.id}/metadata/foo`, value: '' },
        { op: 'remove', path: `/${m2.id}/metadata/ping`, value: '' },
      ]),
    );
    expect(res.status, res.body).toBe(204);
    expectJsonResponse(res);
    expect(res.body).toBe('');
    await expectMachines(m1, onlyHostname);

    // What the test is about: a key that was set goes away again.
    const add = await http(
      'PATCH',
      m1,
      '/fleet/v1/machines',
      patchBody([{ op: 'add', path: `/${m2.id}/metadata/foo`, value: 'bar' }]),
    );
    expect(add.status, add.body).toBe(204);
    await expectMachines(m1, (m) =>
      m === m2 ? { foo: 'bar', hostname: m.name } : onlyHostname(m),
    );
    const remove = await http(
      'PATCH',
      m2,
      '/fleet/v1/machines',
      patchBody([{ op: 'remove', path: `/${m2.id}/metadata/foo`, value: '' }]),
    );
    expect(remove.status, remove.body).toBe(204);
    await expectMachines(m1, onlyHostname);
  });

  it('TestMachinesPatchBad: a bad op, path or value is refused with 400 and nothing is applied', async () => {
    const m1 = cluster.machine('m1');
    const cases: Array<[MetadataOp, string]> = [
      [
        { op: 'noop', path: `/${m1.id}/metadata/foo`, value: 'bar' },
        'invalid op: expect add, remove, or replace',
      ],
      [{ op: 'add', path: `/${m1.id}/foo`, value: 'bar' }, 'machine metadata path invalid'],
      // fleet's "bad value" case, whose path is bad too (the path is checked first)...
      [{ op: 'add', path: `/${m1.id}/foo`, value: '' }, 'machine metadata path invalid'],
      // ...and the empty value it meant, on a good path.
      [
        { op: 'add', path: `/${m1.id}/metadata/foo`, value: '' },
        'invalid value: add and replace require a value',
      ],
      [
        { op: 'replace', path: `/${m1.id}/metadata/foo`, value: '' },
        'invalid value: add and replace require a value',
      ],
    ];
    for (const [op, message] of cases) {
      const res = await http('PATCH', m1, '/fleet/v1/machines', patchBody([op]));
      expect(res.status, `${JSON.stringify(op)}: ${res.body}`).toBe(400);
      expectJsonResponse(res);
      expect(res.body).toBe(errorBody(400, message));
    }
    // Every op is checked before any is applied: a good one before a bad one is not written.
    const mixed = await http(
      'PATCH',
      m1,
      '/fleet/v1/machines',
      patchBody([
        { op: 'add', path: `/${m1.id}/metadata/foo`, value: 'bar' },
        { op: 'noop', path: `/${m1.id}/metadata/foo`, value: 'bar' },
      ]),
    );
    expect(mixed.status).toBe(400);
    await expectMachines(m1, onlyHostname);
  });

  it('leaves nothing behind', async () => {
    await teardown();
    expectNoLeftovers();
  });
});
