import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { GoogleApiError } from '../../src/client/googleapi-error.js';
import { createHttpClient } from '../../src/client/http-client.js';
import type { FleetClient } from '../../src/client/types.js';
import {
  parseFrame,
  StreamCutError,
  type UnitOutputRequest,
} from '../../src/client/unit-output.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (server === undefined) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
  server = undefined;
});

/** A fleet API on a loopback port that answers with `handler`; returns the client. */
async function clientOf(handler: Handler, token?: string, timeoutMs?: number) {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return createHttpClient({
    endpoint: `http://127.0.0.1:${port}`,
    ...(token !== undefined && { token }),
    ...(timeoutMs !== undefined && { requestTimeoutMs: timeoutMs }),
  });
}

function frame(value: object): string {
  return `${JSON.stringify(value)}\n`;
}

const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');

/** Collects what the command wrote, stream by stream and in order. */
function sink() {
  const writes: Array<['stdout' | 'stderr', Buffer]> = [];
  return {
    writes,
    stdout: { write: (data: Uint8Array) => writes.push(['stdout', Buffer.from(data)]) },
    stderr: { write: (data: Uint8Array) => writes.push(['stderr', Buffer.from(data)]) },
    bytes: (stream: 'stdout' | 'stderr') =>
      Buffer.concat(writes.filter(([s]) => s === stream).map(([, data]) => data)),
  };
}

function run(client: FleetClient, request: UnitOutputRequest, out = sink(), signal?: AbortSignal) {
  return client.unitOutput!(request, out, signal);
}

const STATUS: UnitOutputRequest = { kind: 'status', unit: 'hello.service' };

describe('unit status and journal through fleet', () => {
  it('copies stdout and stderr byte for byte, in order, and returns the exit status', async () => {
    const binary = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x0a]);
    const seen: Array<{ url: string | undefined; auth: string | undefined }> = [];
    const client = await clientOf((req, res) => {
      seen.push({ url: req.url, auth: req.headers.authorization });
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.write(frame({ stdout: b64('● hello.service\n') }));
      // A frame split across writes still arrives whole.
      const split = frame({ stderr: b64('warning\n') });
      res.write(split.slice(0, 7));
      res.write(split.slice(7) + frame({ stdout: b64(binary) }));
      res.end(frame({ exit: 3 }));
    }, 'secret');
    const out = sink();
    expect(await run(client, STATUS, out)).toEqual({ served: true, exit: 3 });
    expect(out.writes.map(([stream]) => stream)).toEqual(['stdout', 'stderr', 'stdout']);
    expect(out.bytes('stdout')).toEqual(Buffer.concat([Buffer.from('● hello.service\n'), binary]));
    expect(out.bytes('stderr').toString()).toBe('warning\n');
    expect(seen).toEqual([
      { url: '/fleet/ext/v1/units/hello.service/status', auth: 'Bearer secret' },
    ]);
  });

  it("asks for the journal with fleetctl's lines, output, follow and machine", async () => {
    const urls: string[] = [];
    const client = await clientOf((req, res) => {
      urls.push(req.url ?? '');
      res.end(frame({ exit: 0 }));
    });
    await run(client, {
      kind: 'journal',
      unit: 'a@1.service',
      lines: 5,
      output: 'cat',
      follow: false,
    });
    await run(client, {
      kind: 'journal',
      unit: 'g.service',
      lines: 10,
      output: 'short',
      follow: true,
      machine: 'abc',
    });
    await run(client, { kind: 'status', unit: 'g.service', machine: 'abc' });
    expect(urls).toEqual([
      '/fleet/ext/v1/units/a%401.service/journal?lines=5&output=cat',
      '/fleet/ext/v1/units/g.service/journal?lines=10&output=short&follow=true&machine=abc',
      '/fleet/ext/v1/units/g.service/status?machine=abc',
    ]);
  });

  it("reports the original fleet's 404 for an unknown path as not served", async () => {
    const client = await clientOf((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":{"code":404,"message":""}}');
    });
    expect(await run(client, STATUS)).toEqual({ served: false });
  });

  it("throws fleet's refusals with their message, a 404 with a message included", async () => {
    const answers = [
      [404, 'unit hello.service is not running on any machine'],
      [403, 'reading the status or journal of unit "hello.service" needs the operate role'],
      [502, 'machine m2 could not be reached: connect ECONNREFUSED'],
    ] as const;
    let next = 0;
    const client = await clientOf((_req, res) => {
      const [code, message] = answers[next++]!;
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code, message } }));
    });
    for (const [code, message] of answers) {
      const err = await run(client, STATUS).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GoogleApiError);
      expect(err).toMatchObject({ code, apiMessage: message });
    }
  });

  it('fails as a cut stream when the answer ends before its exit line', async () => {
    const client = await clientOf((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.end(frame({ stdout: b64('partial\n') }));
    });
    const out = sink();
    const err = await run(client, STATUS, out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamCutError);
    expect(out.bytes('stdout').toString()).toBe('partial\n');
  });

  it('fails as a cut stream when the connection breaks mid-stream', async () => {
    const client = await clientOf((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.write(frame({ stdout: b64('first\n') }), () => res.socket?.destroy());
    });
    const err = await run(client, STATUS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamCutError);
    expect((err as Error).message).toMatch(/^Get "http:\/\/127\.0\.0\.1:\d+\/fleet\/ext\/v1\//);
  });

  it('keeps a quiet followed stream open past the request timeout, which covers headers only', async () => {
    const client = await clientOf(
      (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        res.flushHeaders();
        setTimeout(() => res.end(frame({ stdout: b64('late\n') }) + frame({ exit: 0 })), 300);
      },
      undefined,
      50,
    );
    const out = sink();
    expect(await run(client, STATUS, out)).toEqual({ served: true, exit: 0 });
    expect(out.bytes('stdout').toString()).toBe('late\n');
  });

  it('hangs up when aborted, so the server learns the follower is gone', async () => {
    let hungUp!: () => void;
    const closed = new Promise<void>((resolve) => {
      hungUp = resolve;
    });
    const client = await clientOf((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.write(frame({ stdout: b64('line 1\n') }));
      res.on('close', hungUp);
    });
    const abort = new AbortController();
    const out = sink();
    out.stdout.write = (data: Uint8Array) => {
      out.writes.push(['stdout', Buffer.from(data)]);
      abort.abort();
      return 0;
    };
    const follow: UnitOutputRequest = {
      kind: 'journal',
      unit: 'hello.service',
      lines: 10,
      output: 'short',
      follow: true,
    };
    const err = await run(client, follow, out, abort.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamCutError);
    await closed;
    expect(out.bytes('stdout').toString()).toBe('line 1\n');
  });
});

describe('the frames of the stream', () => {
  it('reads output as base64 bytes and the exit status as an integer', () => {
    expect(parseFrame('{"stdout":"aGk="}')).toEqual({ stdout: Buffer.from('hi') });
    expect(parseFrame('{"stderr":""}')).toEqual({ stderr: Buffer.alloc(0) });
    expect(parseFrame('{"exit":143}')).toEqual({ exit: 143 });
  });

  it('refuses anything else', () => {
    for (const line of [
      'not json',
      '{"stdout":"not base64!"}',
      '{"stdout":1}',
      '{"exit":1.5}',
      '{"exit":"0"}',
      '{"stdout":"aGk=","exit":0}',
      '[]',
    ]) {
      expect(() => parseFrame(line), line).toThrow(StreamCutError);
    }
  });
});
