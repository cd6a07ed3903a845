// An incident in the browser, as the runbook's communication rules go: declare it from the
// dashboard's alarm (its service filled in), preview and publish the first message, step away
// (every page's header says nobody is in charge) and take charge again, post an update, hand
// charge to someone else, resolve it, and read the timeline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, watchProblems, devSignIn, waitForHydration, screenshotPath, launchBrowser,
} from '../lib/harness.mjs';

let world, sim, server, browser;

before(async () => {
  // Charge is handed only to someone Onwatch knows: here, the rotation's members.
  const start = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19);
  world = await startWorld({ config: `[oncall]\nmembers = ["ana", "bo"]\nstart = "${start}"\ntime_zone = "UTC"\n` });
  ({ sim, server, browser } = world);
});

after(async () => {
  await world?.stop();
});

/** Previews the form's message and publishes exactly what the preview showed. */
async function previewAndPublish(page, form, expect) {
  await form.getByRole('button', { name: 'Preview what the public will read' }).click();
  const preview = page.getByTestId('public-preview');
  await preview.waitFor();
  assert.equal(await preview.getByTestId('preview-status').innerText(), expect.status);
  assert.match(await preview.getByTestId('preview-body').innerText(), expect.body);
  if (expect.components) {
    assert.equal(await preview.getByTestId('preview-components').innerText(), expect.components);
  }
  await preview.getByTestId('publish').click();
}

test('declare from an alarm, update, hand over, resolve, read the timeline', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await sim.fault({ host: 'builder-api-live-1', fault: 'wedged', service: 'builder-api' });
  await devSignIn(page, server.url, { name: 'ana', role: 'responder', next: '/' });
  await waitForHydration(page);
  // A viewer in another browser keeps one page open and never reloads it: its header follows.
  const other = await launchBrowser();
  const watcher = await other.context.newPage();
  const watcherProblems = watchProblems(watcher);
  await devSignIn(watcher, server.url, { name: 'watcher', role: 'viewer', next: '/services' });
  await waitForHydration(watcher);
  assert.equal(await watcher.getByTestId('incident-strip').count(), 0);
  const watcherStrip = watcher.getByTestId('incident-strip');

  // The failing service's alarm offers the declaration with its service filled in.
  const declare = page.getByTestId('alarm-declare').first();
  await declare.waitFor({ timeout: 20_000 });
  // The alarm names the service once, then its state and the health check's own reason.
  const alarmItem = page.locator('li.alarm[data-kind="failing_service"]').first();
  assert.equal(await alarmItem.locator('.alarm-subject').innerText(), 'builder-api.live on builder-api-live-1');
  // (The health check's output is read in the visit after the one that saw the state change.)
  await alarmItem.locator('.alarm-msg').filter({ hasText: 'cannot reach the router' }).waitFor();
  assert.equal(await alarmItem.locator('.alarm-msg').innerText(), 'critical: builder-api: cannot reach the router: connection refused');
  await Promise.all([page.waitForURL((u) => u.pathname === '/incidents'), declare.click()]);
  await waitForHydration(page);
  const form = page.getByTestId('declare');
  assert.match(await form.getByTestId('declare-title').inputValue(), /^api failing in live$/);
  assert.equal(await form.locator('input[type="checkbox"][value="api"]').isChecked(), true);
  assert.equal(await form.locator('input[type="checkbox"][value="router"]').isChecked(), false);
  // The template fills the first message with the component's public name.
  await page.waitForFunction(() => document.querySelector('[data-testid="declare-body"]').value.includes('the API gateway'));
  await form.getByTestId('declare-title').fill('Builder API errors');
  await previewAndPublish(page, form, {
    status: 'Investigating',
    body: /^We're investigating problems with the API gateway\./,
    components: 'the API gateway: Partial outage',
  });
  await page.waitForURL((u) => /^\/incidents\/i/.test(u.pathname));
  await waitForHydration(page);
  assert.match(await page.getByTestId('incident-owner').innerText(), /^ana is in charge since /);
  assert.match(await page.getByTestId('incident-strip').innerText(), /Builder API errors \(investigating\) — ana in charge/);
  await watcherStrip.filter({ hasText: 'Builder API errors (investigating) — ana in charge' }).waitFor();
  const incidentUrl = page.url();

  // Stepping away: every page's header says nobody is in charge, until someone takes it.
  await page.getByRole('button', { name: "I'm stepping away" }).click();
  await page.getByTestId('incident-message').filter({ hasText: 'nobody is in charge' }).waitFor();
  await page.goto(`${server.url}/services`);
  await page.getByTestId('nobody-in-charge').waitFor();
  await watcher.getByTestId('nobody-in-charge').waitFor();
  await page.screenshot({ path: screenshotPath('incident-nobody-in-charge') });
  await page.goto(incidentUrl);
  await waitForHydration(page);
  await page.getByRole('button', { name: "I'm taking charge" }).click();
  await page.getByTestId('incident-owner').filter({ hasText: /^ana is in charge/ }).waitFor();

  // An update, previewed and published.
  const update = page.getByTestId('update-form');
  await update.getByTestId('update-status').selectOption('identified');
  await page.waitForFunction(() => document.querySelector('[data-testid="update-body"]').value.startsWith("We've found the cause"));
  await previewAndPublish(page, update, { status: 'Identified', body: /^We've found the cause of the problems with the API gateway/ });
  await page.getByTestId('incident-status').filter({ hasText: 'identified' }).waitFor();
  assert.match(await page.getByTestId('public-updates').locator('li').first().innerText(), /^identified — We've found the cause/);

  // Charge handed to bo.
  const own = page.getByTestId('ownership');
  await own.getByTestId('hand-to').fill('bo');
  await own.getByRole('button', { name: 'Hand over' }).click();
  await page.getByTestId('incident-owner').filter({ hasText: /^bo is in charge since / }).waitFor();
  await watcherStrip.filter({ hasText: 'Builder API errors (identified) — bo in charge' }).waitFor();

  // Resolved: the component goes back to operational (the public page must not stay in an
  // outage), and since builder-api still alarms, the form asks again, saying so, before anything
  // is published.
  await update.getByTestId('update-status').selectOption('resolved');
  await page.waitForFunction(() => document.querySelector('[data-testid="update-body"]').value.startsWith('The problems with'));
  assert.equal(await update.locator('select[data-component="api"]').inputValue(), 'operational');
  await previewAndPublish(page, update, { status: 'Resolved', body: /are resolved/, components: 'the API gateway: Operational' });
  const ask = page.getByTestId('resolve-confirm');
  await ask.waitFor();
  assert.match(await ask.innerText(), /Still alarming: builder-api on builder-api-live-1 \(live\): critical/);
  assert.equal(await page.getByTestId('incident-status').innerText(), 'identified', 'nothing published yet');
  await page.screenshot({ path: screenshotPath('incident-resolve-confirm') });
  await ask.getByTestId('resolve-anyway').click();
  await page.getByTestId('incident-status').filter({ hasText: 'resolved' }).waitFor();
  // The viewer's header drops the incident, still without a reload.
  await watcher.waitForFunction(() => !document.querySelector('[data-testid="incident-strip"]'));
  assert.deepEqual(await watcherProblems.list(), []);
  await other.close();
  await page.reload();
  await waitForHydration(page);
  assert.equal(await page.getByTestId('incident-strip').count(), 0);

  // The timeline, in time order: the alarm that led to it, the declaration, ownership, updates.
  const entries = await page.getByTestId('timeline').locator('li').allInnerTexts();
  const at = (re) => {
    const i = entries.findIndex((e) => re.test(e));
    assert.ok(i >= 0, `no ${re} in:\n${entries.join('\n')}`);
    return i;
  };
  const alarm = at(/alarm live\/builder-api-live-1 builder-api\.live: .*→ critical/);
  const declared = at(/public update Investigating: We're investigating/);
  const away = at(/ownership ana stepped away: nobody is in charge/);
  const handed = at(/ownership ana handed charge to bo/);
  const resolved = at(/public update Resolved: The problems/);
  assert.ok(alarm < declared && declared < away && away < handed && handed < resolved, entries.join('\n'));
  await page.screenshot({ path: screenshotPath('incident'), fullPage: true });
  // At a phone's width the incident's page does not scroll sideways.
  await page.setViewportSize({ width: 375, height: 800 });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
  await page.screenshot({ path: screenshotPath('incident-phone'), fullPage: true });
  // The audit log says what happened in words, not in its stored codes.
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(`${server.url}/audit?kind=incident`);
  const asked = page.getByTestId('audit-rows').locator('[data-outcome="update:attempt"]').first();
  assert.equal(await asked.innerText(), 'update (asked)');
  assert.deepEqual(await problems.list(), []);
  await page.close();
});
