import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Pki,
  type SecureApi,
  sendTls,
  startSecureApi,
  TOKENS,
  useSecureSuite,
} from '../support/secure-api.js';

const suite = useSecureSuite();
let api: SecureApi;

beforeEach(async () => {
  api = await startSecureApi(suite.client, suite.pki);
});
afterEach(async () => {
  await api?.close();
});

const EVENTS = { method: 'GET', path: '/fleet/ext/v1/events' };

/** The stream's status, type and first line, then hangs up. */
function firstLine(
  pki: Pki,
  token: string,
): Promise<{ status: number; type: string | undefined; line: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: api.port,
        path: EVENTS.path,
        headers: { Host: `127.0.0.1:${api.port}`, Authorization: `Bearer ${token}` },
        agent: false,
        servername: 'fleet.test',
        ca: readFileSync(pki.ca.cert),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          const newline = text.indexOf('\n');
          if (newline < 0) return;
          req.destroy();
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            line: text.slice(0, newline),
          });
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('the event stream on TCP with access control', () => {
  it('streams to any caller with a grant, a read-only one included', async () => {
    for (const token of [TOKENS.viewer, TOKENS.deployer]) {
      const { status, type, line } = await firstLine(suite.pki, token);
      expect([status, type]).toEqual([200, 'application/x-ndjson']);
      expect(JSON.parse(line)).toEqual({ type: 'reset', revision: expect.any(String) });
    }
  });

  it('gives a caller the access file does not know its refusal and nothing of the stream', async () => {
    for (const credentials of [{ client: suite.pki.clients.nobody }, { token: 'not-a-token' }]) {
      const refused = await sendTls(api, suite.pki, { ...EVENTS, ...credentials });
      expect(refused.status).toBe(401);
      expect(refused.headers['content-type']).toBe('application/json');
      expect(refused.body).toMatch(/^\{"error":\{"code":401,"message":".+"\}\}$/);
    }
  });
});
