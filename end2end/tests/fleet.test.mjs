// The dashboard on a simulated fleet: a fault injected in the simulator turns a cell critical
// without a reload; the cell leads to the service page; the palette jumps to a host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startSim, launchBrowser, watchProblems, screenshotPath, waitForHydration, devSignIn } from '../lib/harness.mjs';

let sim;
let server;
let browser;

before(async () => {
  sim = await startSim();
  server = await startServer({
    env: {
      ONWATCH_INVENTORY__SOURCE: 'static',
      ONWATCH_INVENTORY__FLEET_FILE: sim.fleetFile,
      ONWATCH_FLEET__POLL_INTERVAL_MS: '300',
    },
  });
  browser = await launchBrowser();
  const page = await browser.context.newPage();
  await devSignIn(page, server.url, { name: 'Riley Oncall', role: 'responder' });
  await page.close();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await sim?.stop();
});

const apiCell = (page) => page.locator('section[data-env="live"] .chip[data-service="builder-api"] [data-state]');

test('a fault turns the dashboard cell critical without a reload', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.goto(`${server.url}/`);
  await waitForHydration(page);
  await page.evaluate(() => { window.__sameDocument = 'yes'; });
  assert.equal(await apiCell(page).getAttribute('data-state'), 'healthy');
  assert.match(await page.getByTestId('alarms').textContent(), /No alarms/);
  await page.screenshot({ path: screenshotPath('dashboard-healthy'), fullPage: true });

  await sim.fault({ host: 'builder-api-live-1', fault: 'health', service: 'builder-api', status: 'Critical' });
  await sim.fault({ host: 'builder-router-acceptance-1', fault: 'down' });
  await page.waitForFunction(() => document.querySelector(
    'section[data-env="live"] .chip[data-service="builder-api"] [data-state]')?.dataset.state === 'critical',
    null, { timeout: 10_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), 'yes', 'updated live, no reload');
  assert.match(await apiCell(page).textContent(), /critical/, 'the state is a word, not only a colour');
  await page.locator('[data-kind="unreachable_host"]').waitFor({ timeout: 10_000 });
  await page.screenshot({ path: screenshotPath('dashboard'), fullPage: true });

  // The cell leads to the service page, which shows the hook's output and the remedy.
  await apiCell(page).click();
  await page.getByRole('heading', { level: 1, name: /api/ }).waitFor();
  await page.getByTestId('instances').waitFor();
  assert.match(await page.getByTestId('instances').textContent(), /cannot reach the router/);
  await page.screenshot({ path: screenshotPath('service-api'), fullPage: true });
  assert.deepEqual(problems.filter((p) => !p.includes('/api/fleet/events')), []);
  await page.close();
});

test('a dashboard reached without a reload draws itself; a failed refresh keeps the last grid, marked not current', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.goto(`${server.url}/services`);
  await waitForHydration(page);
  await page.evaluate(() => { window.__sameDocument = 'yes'; });
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
  await page.waitForFunction(() => document.querySelector(
    'section[data-env="acceptance"] .chip[data-service="builder-api"] [data-state]')?.dataset.state === 'critical',
    null, { timeout: 10_000 });
  // The only problems are the 500s this test made up.
  const injected = (p) => p.includes('/api/read/dashboard') || p.includes('status of 500');
  assert.deepEqual(problems.filter((p) => !p.includes('/api/fleet/events') && !injected(p)), []);
  await page.close();
});

test('the palette jumps to a host page', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/services`);
  await waitForHydration(page);
  await page.keyboard.press('Control+k');
  const palette = page.getByTestId('palette');
  await palette.waitFor();
  await palette.getByRole('searchbox').fill('router-acceptance');
  await palette.getByRole('link', { name: /builder-router-acceptance-1/ }).waitFor();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: /builder-router-acceptance-1/ }).waitFor();
  assert.match(page.url(), /\/environments\/acceptance\/hosts\/builder-router-acceptance-1$/);
  await page.getByText('Supervisor unreachable').first().waitFor();
  await page.screenshot({ path: screenshotPath('host-unreachable'), fullPage: true });
  await page.close();
});

test('a healthy host page shows its Supervisor, services and census', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/environments/live/hosts/builder-jobsrv-live-1`);
  await waitForHydration(page);
  const html = await page.content();
  assert.match(html, /0\.61\.0\/20180815173401/);
  assert.match(html, /builder-scheduler/, 'the host that runs two services shows both');
  await page.screenshot({ path: screenshotPath('host'), fullPage: true });
  await page.close();
});

test('when the server goes away, a banner says the page may be stale', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/`);
  await waitForHydration(page);
  assert.equal(await page.getByTestId('stale-banner').count(), 0);
  await server.stop();
  const banner = page.getByTestId('stale-banner');
  await banner.waitFor({ timeout: 10_000 });
  assert.match(await banner.textContent(), /Live updates interrupted since .*out of date/);
  await page.screenshot({ path: screenshotPath('dashboard-stale') });
  await page.close();
});
