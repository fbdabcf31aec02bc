import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type SecureApi,
  sendTls,
  sendUnix,
  startSecureApi,
  TOKENS,
  useSecureSuite,
} from '../support/secure-api.js';

const suite = useSecureSuite();
let assets: string;
let api: SecureApi;

beforeAll(() => {
  assets = mkdtempSync(join(tmpdir(), 'fleet-dashboard-assets-'));
  writeFileSync(join(assets, 'index.html'), '<!doctype html><title>fleet</title>');
  writeFileSync(join(assets, 'app.js'), 'console.log(1);');
  writeFileSync(join(assets, 'notes.txt'), 'not an asset type');
});
afterAll(() => rmSync(assets, { recursive: true, force: true }));
beforeEach(async () => {
  api = await startSecureApi(suite.client, suite.pki, { dashboardDir: assets });
});
afterEach(async () => api?.close());

const errorBody = (code: number, message = '') => JSON.stringify({ error: { code, message } });

describe('the dashboard at /ui/ on a TLS listener', () => {
  it('serves the page and its scripts without a token, confined to this fleetd', async () => {
    const page = await sendTls(api, suite.pki, { method: 'GET', path: '/ui/' });
    expect([page.status, page.body]).toEqual([200, '<!doctype html><title>fleet</title>']);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    const script = await sendTls(api, suite.pki, { method: 'GET', path: '/ui/app.js' });
    expect([script.status, script.headers['content-type']]).toEqual([
      200,
      'text/javascript; charset=utf-8',
    ]);
  });

  it('checks the Host header by name, whatever the port it was reached on', async () => {
    const forwarded = await sendTls(api, suite.pki, {
      method: 'GET',
      path: '/ui/',
      headers: { Host: '127.0.0.1:45678' },
    });
    expect(forwarded.status).toBe(200);
    const foreign = await sendTls(api, suite.pki, {
      method: 'GET',
      path: '/ui/',
      headers: { Host: `attacker.example:${api.port}` },
    });
    expect(foreign.status).toBe(403);
  });

  it('still wants a token for the API the page calls', async () => {
    const anonymous = await sendTls(api, suite.pki, { method: 'GET', path: '/fleet/v1/units' });
    expect(anonymous.status).toBe(401);
    const viewer = await sendTls(api, suite.pki, {
      method: 'GET',
      path: '/fleet/v1/units',
      token: TOKENS.viewer,
    });
    expect(viewer.status).toBe(200);
  });

  it('lets no path under /ui/ reach anything but its own files', async () => {
    for (const path of ['/ui/notes.txt', '/ui/missing.js', '/ui/a/app.js']) {
      const response = await sendTls(api, suite.pki, { method: 'GET', path });
      expect([path, response.status, response.body]).toEqual([path, 404, errorBody(404)]);
    }
    for (const path of ['/ui/../fleet/v1/units', '/ui/%2e%2e/fleet/v1/units']) {
      const response = await sendTls(api, suite.pki, { method: 'GET', path });
      expect([path, response.status, response.headers.location]).toEqual([
        path,
        301,
        '/fleet/v1/units',
      ]);
    }
  });

  it('refuses writes to /ui/ like any unclassified request, and redirects /ui to /ui/', async () => {
    const write = await sendTls(api, suite.pki, { method: 'POST', path: '/ui/' });
    expect(write.status).toBe(401);
    const bare = await sendTls(api, suite.pki, { method: 'GET', path: '/ui' });
    expect([bare.status, bare.headers.location]).toEqual([301, '/ui/']);
  });

  it('leaves the root the original 405 and the page on the unix socket too', async () => {
    const root = await sendTls(api, suite.pki, { method: 'GET', path: '/', token: TOKENS.viewer });
    expect([root.status, root.body]).toEqual([405, errorBody(405)]);
    const unix = await sendUnix(api, { method: 'GET', path: '/ui/' });
    expect(unix.status).toBe(200);
  });
});
