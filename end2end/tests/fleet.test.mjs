// The dashboard on a simulated fleet: a fault injected in the simulator turns a cell critical
// without a reload; the cell leads to the service page; the palette jumps to a host.
// Each journey has its own simulator, server, browser and session: faults one injects, or a
// server one stops, never reach another, and any of them runs alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startSim, launchBrowser, watchProblems, screenshotPath, waitForHydration, devSignIn, fact,
} from '../lib/harness.mjs';

/**
 * A fresh simulated fleet, an Onwatch polling it, and a browser signed in as a responder on
 * `next`, its problems watched from the first page on. Pass the journey as `fn`; everything is
 * torn down after it, passed or failed.
 */
async function withFleet(next, fn) {
  const sim = await startSim();
  let server;
  let browser;
  try {
    server = await startServer({
      env: {
        ONWATCH_INVENTORY__SOURCE: 'static',
        ONWATCH_INVENTORY__FLEET_FILE: sim.fleetFile,
        ONWATCH_FLEET__POLL_INTERVAL_MS: '300',
      },
    });
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await devSignIn(page, server.url, { name: 'Riley Oncall', role: 'responder', next });
    await waitForHydration(page);
    await fn({ sim, server, page, problems });
  } finally {
    await browser?.close();
    await server?.stop();
    await sim.stop();
  }
}

const chip = (page, env, service) => page.locator(`section[data-env="${env}"] .chip[data-service="${service}"] [data-state]`);
const apiCell = (page) => chip(page, 'live', 'builder-api');
/** Waits until the dashboard's cell shows `state`, drawn by the page itself (no reload). */
const waitForState = (page, env, service, state) => page.waitForFunction(([e, s, want]) => document.querySelector(
  `section[data-env="${e}"] .chip[data-service="${s}"] [data-state]`)?.dataset.state === want,
[env, service, state], { timeout: 10_000 });

test('a fault turns the dashboard cell critical without a reload', async () => {
  await withFleet('/', async ({ sim, page, problems }) => {
    await page.evaluate(() => { window.__sameDocument = 'yes'; });
    await problems.streamOpen();
    // A fresh server: the first poll round may not be in yet.
    await waitForState(page, 'live', 'builder-api', 'healthy');
    assert.match(await page.getByTestId('alarms').textContent(), /No alarms/);
    await page.screenshot({ path: screenshotPath('dashboard-healthy'), fullPage: true });

    await sim.fault({ host: 'builder-api-live-1', fault: 'health', service: 'builder-api', status: 'Critical' });
    await sim.fault({ host: 'builder-router-acceptance-1', fault: 'down' });
    await waitForState(page, 'live', 'builder-api', 'critical');
    assert.equal(await page.evaluate(() => window.__sameDocument), 'yes', 'updated live, no reload');
    assert.match(await apiCell(page).textContent(), /critical/, 'the state is a word, not only a colour');
    const unreachable = page.getByTestId('alarms').locator('[data-kind="unreachable_host"]');
    await unreachable.waitFor({ timeout: 10_000 });
    assert.match(await unreachable.textContent(), /builder-router-acceptance-1/, 'the alarm names the host');
    assert.equal(await unreachable.locator('.alarm-env').textContent(), 'acceptance');
    await page.screenshot({ path: screenshotPath('dashboard'), fullPage: true });

    // The cell leads to the service page, which shows the hook's output and the remedy.
    await apiCell(page).click();
    await page.getByRole('heading', { level: 1, name: /api/ }).waitFor();
    const row = page.getByTestId('instances').locator('tr[data-host="builder-api-live-1"]');
    await row.waitFor();
    assert.match(await row.locator('pre.hook-output').textContent(), /cannot reach the router/);
    assert.match(await row.locator('[data-state]').textContent(), /critical/);
    await page.screenshot({ path: screenshotPath('service-api'), fullPage: true });
    assert.deepEqual(await problems.list(), []);
  });
});

test('a dashboard reached without a reload draws itself; a failed refresh keeps the last grid, marked not current', async () => {
  await withFleet('/services', async ({ sim, server, page, problems }) => {
    await page.evaluate(() => { window.__sameDocument = 'yes'; });
    await problems.streamOpen();
    await page.locator('a.brand').click();
    await apiCell(page).waitFor();
    assert.equal(await page.evaluate(() => window.__sameDocument), 'yes', 'client-side navigation');
    assert.equal(await page.getByTestId('refresh-error').count(), 0);

    // The next refresh fails: the grid stays, under a warning that it is not current.
    const dashboardApi = '**/api/read/dashboard**';
    await page.route(dashboardApi, (route) => route.fulfill({ status: 500, contentType: 'text/plain', body: 'the server fell over' }));
    await sim.fault({ host: 'builder-api-acceptance-1', fault: 'health', service: 'builder-api', status: 'Warning' });
    await page.getByTestId('refresh-error').waitFor({ timeout: 10_000 });
    assert.match(await page.getByTestId('refresh-error').textContent(), /Not current/);
    assert.equal(await apiCell(page).count(), 1, 'the last grid is still shown');
    await page.screenshot({ path: screenshotPath('dashboard-refresh-failed'), fullPage: true });

    // Once the server answers again, the warning goes and the change shows.
    await page.unroute(dashboardApi);
    await sim.fault({ host: 'builder-api-acceptance-1', fault: 'health', service: 'builder-api', status: 'Critical' });
    await page.getByTestId('refresh-error').waitFor({ state: 'detached', timeout: 10_000 });
    await waitForState(page, 'acceptance', 'builder-api', 'critical');
    // The only problems are the 500s this test made up (by URL and status, nothing broader).
    assert.deepEqual(await problems.list({ expected: [{ url: `${server.url}/api/read/dashboard`, status: 500 }] }), []);
  });
});

test('the palette jumps to a host page', async () => {
  await withFleet('/services', async ({ sim, page, problems }) => {
    await sim.fault({ host: 'builder-router-acceptance-1', fault: 'down' });
    await page.keyboard.press('Control+k');
    const palette = page.getByTestId('palette');
    await palette.waitFor();
    // Nothing matches: it says so, in the palette.
    await palette.getByRole('searchbox').fill('no-such-thing');
    assert.equal(await palette.getByTestId('palette-none').innerText(), 'Nothing matches “no-such-thing”: try a host, service or environment name.');
    assert.equal(await palette.getByRole('link').count(), 0);
    // Two words, in any order, each part of the name.
    await palette.getByRole('searchbox').fill('router acc');
    await palette.getByRole('link', { name: /builder-router-acceptance-1/ }).waitFor();
    assert.equal(await palette.getByTestId('palette-none').count(), 0);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: /builder-router-acceptance-1/ }).waitFor();
    assert.match(page.url(), /\/environments\/acceptance\/hosts\/builder-router-acceptance-1$/);
    // The host this journey took down says so, in the host page's alert.
    const alert = page.locator('section.page .callout-error[role="alert"]');
    await alert.waitFor({ timeout: 10_000 });
    assert.match(await alert.locator('strong').textContent(), /^Supervisor unreachable /);
    assert.equal(await fact(page, 'Reachability').textContent(), 'unreachable');
    await page.screenshot({ path: screenshotPath('host-unreachable'), fullPage: true });
    assert.deepEqual(await problems.list(), []);
  });
});

test('a healthy host page shows its Supervisor, services and census', async () => {
  await withFleet('/environments/live/hosts/builder-jobsrv-live-1', async ({ page, problems }) => {
    await page.getByRole('heading', { level: 1, name: /builder-jobsrv-live-1/ }).waitFor();
    assert.equal(await fact(page, 'Supervisor').textContent(), '0.61.0/20180815173401');
    assert.equal(await fact(page, 'Reachability').textContent(), 'reachable');
    // The host that runs two services shows both, each in its own row.
    const services = page.locator('table.services-table');
    for (const service of ['builder-jobsrv', 'builder-scheduler']) {
      const row = services.locator(`tr[data-service="${service}"]`);
      assert.equal(await row.locator('td').first().textContent(), `${service}.live`);
      assert.equal(await row.locator('[data-state]').getAttribute('data-state'), 'healthy');
    }
    assert.equal(await services.locator('tbody tr').count(), 2);
    // The census is read every few polls: the live page draws it once it is in.
    const census = page.locator('table.census');
    await census.waitFor({ timeout: 20_000 });
    const scheduler = census.locator('tbody tr').filter({ has: page.getByRole('cell', { name: 'builder-scheduler.live', exact: true }) });
    assert.deepEqual(await scheduler.locator('td').allTextContents(), ['builder-scheduler.live', 'builder-jobsrv-live-1', 'alive']);
    assert.ok(await census.locator('tbody tr').count() >= 7, 'every service group of the live environment is in the census');
    await page.screenshot({ path: screenshotPath('host'), fullPage: true });
    assert.deepEqual(await problems.list(), []);
  });
});

test('when the server goes away, a banner says the page may be stale', async () => {
  await withFleet('/', async ({ server, page, problems }) => {
    await problems.streamOpen();
    assert.equal(await page.getByTestId('stale-banner').count(), 0);
    assert.deepEqual(await problems.list(), []);
    await server.stop();
    const banner = page.getByTestId('stale-banner');
    await banner.waitFor({ timeout: 10_000 });
    assert.match(await banner.textContent(), /Live updates interrupted since .*out of date/);
    // The watcher sees the broken stream: this journey broke it on purpose.
    const found = await problems.list();
    assert.ok(found.includes(`live-update stream error (the connection broke; reconnecting): ${server.url}/api/fleet/events`), found.join('\n'));
    await page.screenshot({ path: screenshotPath('dashboard-stale') });
  });
});
