// The dashboard (fleetd's /ui/) in a real headless Chromium, Debian's package driven by
// playwright-core, against a secure cluster of three real systemd machines. The browser runs
// in the harness network namespace, where the machines' TLS listeners are reached; the page
// gets a token typed into it, follows the event stream and acts through the API
// (docs/dashboard.md). Screenshots go to .test-results/dashboard/.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type ClusterMachine, ensureFreshBuild } from '../../cluster/index.js';
import { harnessUnavailable, REPO_ROOT, teardown } from '../../harness/index.js';
import { show } from '../fleetctl-output.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(REPO_ROOT, '.test-results', 'dashboard');
const PAGE_WAIT_MS = 30_000;

const newToken = (): string => randomBytes(32).toString('hex');
const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');
const TOKENS = { operator: newToken(), viewer: newToken() };

const ACCESS_FILE = `${JSON.stringify({
  tokens: [
    { name: 'operator', sha256: sha256(TOKENS.operator), role: 'operate' },
    { name: 'viewer', sha256: sha256(TOKENS.viewer), role: 'read' },
  ],
  certificates: [],
})}\n`;

/** Debian's chromium, installed as the test command's prerequisites do when it is missing. */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
}

const unitFile = (description: string): string =>
  `[Unit]\nDescription=${description}\n\n[Service]\nExecStart=/bin/sleep 3000\n`;

describe.skipIf(unavailable !== undefined)('the dashboard in a real browser', () => {
  let dir: string;
  let cluster: Cluster;
  let m1: ClusterMachine;
  let browser: Browser;
  /** Every URL any page of the browser asked for. */
  const requested: string[] = [];

  /** A fresh tab (its own context: nothing shared between tokens) signed in with `token`. */
  async function openDashboard(token: string): Promise<Page> {
    const context = await browser.newContext({
      // The machines' certificates come from the cluster's own CA, which the browser lacks.
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    page.on('request', (request) => requested.push(request.url()));
    await page.goto(`${m1.tlsEndpoint}/ui/`);
    await page.getByRole('textbox', { name: 'Token' }).fill(token);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: PAGE_WAIT_MS });
    return page;
  }

  const unitRow = (page: Page, name: string) => page.locator(`#units tr[data-unit="${name}"]`);

  /** Clicks a unit's action button and confirms in the dialog; the outcome line's text. */
  async function actOnUnit(page: Page, name: string, action: string): Promise<string> {
    await unitRow(page, name).locator(`button[data-action="${action}"]`).click();
    await page.locator('#confirm-yes').click();
    const outcome = page.locator('#outcome');
    await outcome.filter({ hasText: /\S/ }).waitFor({ timeout: PAGE_WAIT_MS });
    return (await outcome.textContent()) ?? '';
  }

  /** Until the page shows `state` as the unit's systemd active state. */
  async function untilActiveState(page: Page, name: string, state: string): Promise<void> {
    await unitRow(page, name)
      .locator('td[data-field="active"]')
      .filter({ hasText: new RegExp(`^${state}$`) })
      .waitFor({ timeout: PAGE_WAIT_MS });
  }

  async function activeOnPage(page: Page, name: string): Promise<string> {
    return (await unitRow(page, name).locator('td[data-field="active"]').textContent()) ?? '';
  }

  async function startWithFleetctl(name: string): Promise<void> {
    const path = join(dir, name);
    writeFileSync(path, unitFile(name));
    const r = await cluster.fleetctl('host', ['start', path]);
    expect(r.code, show(r)).toBe(0);
  }

  beforeAll(async () => {
    ensureChromium();
    await ensureFreshBuild();
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build-ui.mjs')]);
    dir = mkdtempSync(join(tmpdir(), 'fleet-dashboard-'));
    mkdirSync(SCREENSHOTS, { recursive: true });
    cluster = await Cluster.start({
      name: 'ui-dashboard',
      machines: 3,
      secure: { accessFile: ACCESS_FILE },
    });
    m1 = cluster.machine('m1');
    // Only the namespace reaches the machines: Chromium starts there, its pipe to the driver
    // (inherited descriptors) crossing untouched.
    const launcher = join(dir, 'chromium-in-cluster');
    writeFileSync(
      launcher,
      `#!/bin/sh\nexec ip netns exec ${cluster.network.netns} ${CHROMIUM} "$@"\n`,
    );
    chmodSync(launcher, 0o755);
    browser = await chromium.launch({
      executablePath: launcher,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    });
    await startWithFleetctl('before.service');
  });

  afterAll(async () => {
    await browser?.close();
    await teardown();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the three machines and their units, and a unit started with fleetctl turns active live', async () => {
    const page = await openDashboard(TOKENS.operator);
    await page.locator('#machines tbody tr').nth(2).waitFor({ timeout: PAGE_WAIT_MS });
    const machineIds = await page
      .locator('#machines tbody tr')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-machine')));
    expect(machineIds.sort()).toEqual(
      cluster
        .live()
        .map((m) => m.id)
        .sort(),
    );
    await untilActiveState(page, 'before.service', 'active');

    await startWithFleetctl('live.service');
    await untilActiveState(page, 'live.service', 'active');
    // Reached by the stream alone: the page was never loaded again.
    expect(requested.filter((url) => url.endsWith('/ui/'))).toHaveLength(1);
    await unitRow(page, 'live.service')
      .getByRole('button', { name: 'live.service', exact: true })
      .click();
    await page.locator('#unit-status').filter({ hasText: 'active (running)' }).waitFor({
      timeout: PAGE_WAIT_MS,
    });
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
    await page.context().close();
  });

  it('lets a read token see the units but not act on them', async () => {
    const page = await openDashboard(TOKENS.viewer);
    await unitRow(page, 'before.service').waitFor({ timeout: PAGE_WAIT_MS });
    expect(await activeOnPage(page, 'before.service')).toBe('active');
    // By keyboard: Enter on an action opens its confirmation, Escape backs out of it.
    await unitRow(page, 'before.service').locator('button[data-action="destroy"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('#confirm').waitFor({ state: 'visible', timeout: PAGE_WAIT_MS });
    expect(await page.locator('#confirm').textContent()).toContain(
      'Really destroy unit before.service?',
    );
    await page.keyboard.press('Escape');
    await page.locator('#confirm').waitFor({ state: 'hidden', timeout: PAGE_WAIT_MS });
    const outcome = await actOnUnit(page, 'before.service', 'stop');
    expect(outcome).toMatch(/^Refused: stop unit before\.service: 403: /);
    const where = (await cluster.units()).find((u) => u.name === 'before.service')?.machineID;
    expect(
      await cluster.unitProperty(cluster.byId(where ?? ''), 'before.service', 'ActiveState'),
    ).toBe('active');
    await page.screenshot({ path: join(SCREENSHOTS, 'read-token-refused.png'), fullPage: true });
    await page.context().close();
  });

  it('lets an operate token stop a unit, which systemd confirms', async () => {
    const page = await openDashboard(TOKENS.operator);
    await unitRow(page, 'live.service').waitFor({ timeout: PAGE_WAIT_MS });
    expect(await actOnUnit(page, 'live.service', 'stop')).toBe('Done: stop unit live.service.');
    const where = (await cluster.units()).find((u) => u.name === 'live.service')?.machineID;
    const machine = cluster.byId(where ?? '');
    await untilActiveState(page, 'live.service', 'inactive');
    expect(await cluster.unitProperty(machine, 'live.service', 'ActiveState')).toBe('inactive');
    await page.context().close();
  });

  it('says plainly when it loses fleetd, and catches up by itself once fleetd is back', async () => {
    const page = await openDashboard(TOKENS.operator);
    await cluster.stopFleet(m1);
    await page.locator('#connection[data-state="lost"]').waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.locator('#connection').textContent()).toMatch(
      /^Connection to fleetd lost \(.*\)\. Reconnecting in \d+ s…$/,
    );
    await startWithFleetctl('meanwhile.service');
    await cluster.startFleet(m1);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: PAGE_WAIT_MS });
    await untilActiveState(page, 'meanwhile.service', 'active');
    await page.context().close();
  });

  it('drops a killed machine from the page', async () => {
    const page = await openDashboard(TOKENS.operator);
    const m3 = cluster.machine('m3');
    const row = page.locator(`#machines tr[data-machine="${m3.id}"]`);
    await row.waitFor({ timeout: PAGE_WAIT_MS });
    await cluster.kill(m3);
    await row.waitFor({ state: 'detached', timeout: cluster.patienceMs });
    expect(await page.locator('#machines tbody tr').count()).toBe(2);
    await page.screenshot({ path: join(SCREENSHOTS, 'machine-gone.png'), fullPage: true });
    await page.context().close();
  });

  it('sent no request outside the cluster', () => {
    expect(requested.length).toBeGreaterThan(0);
    const origins = new Set(requested.map((url) => new URL(url).origin));
    expect([...origins]).toEqual([new URL(m1.tlsEndpoint).origin]);
  });
});
