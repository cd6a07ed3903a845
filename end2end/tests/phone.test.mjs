// At 375 px (a phone) no page scrolls sideways and every section of the navigation can be
// reached: the on-call engineer's phone at 3 a.m. Each page of the app, with a real simulated
// fleet's values in its parameters, as an admin (who sees every page).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import {
  startWorld, watchProblems, screenshotPath, devSignIn, devSessionCookie, waitForHydration,
} from '../lib/harness.mjs';

let world, sim, server, browser;

before(async () => {
  // A rotation, so that every page carries the on-call strip under its header, as in production.
  const start = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19);
  world = await startWorld({
    config: `[oncall]\nmembers = ["ana", "bo", "cy"]\nstart = "${start}"\ntime_zone = "UTC"\nshift_hours = 72\n`,
  });
  ({ sim, server, browser } = world);
});

after(async () => {
  await world?.stop();
});

const PAGES = [
  '/', '/environments', '/environments/live', '/environments/live/hosts/builder-api-live-1',
  '/releases', '/broken', '/services', '/services/api', '/services/sentinel', '/actions', '/audit',
  '/console', '/oncall', '/onboarding', '/admin/sessions',
];

/** One real action (a restart in acceptance), so that its page is among those measured. */
async function anAction() {
  const cookie = await devSessionCookie(server.url, { name: 'phone-responder', role: 'responder' });
  const res = await fetch(`${server.url}/api/attempt/action`, {
    method: 'POST',
    headers: { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      kind: 'restart_service', environment: 'acceptance', host: 'builder-api-acceptance-1',
      service_group: 'builder-api.acceptance', reason: 'phone widths', confirmation: 'builder-api',
      idempotency_key: `phone-${Date.now()}`,
    }).toString(),
  });
  const answer = await res.json();
  if (!answer.Started) throw new Error(`the action did not start: ${JSON.stringify(answer)}`);
  return `/actions/${answer.Started.id}`;
}

test('no page is wider than a 375 px phone, and every section is reachable', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 375, height: 800 });
  await devSignIn(page, server.url, { name: 'phone-admin', role: 'admin' });
  for (const path of [...PAGES, await anAction()]) {
    const res = await page.goto(server.url + path);
    assert.equal(res.status(), 200, path);
    await page.locator('h1').first().waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `${path} is ${width} px wide at 375 px`);
    // Every link of the navigation is on screen, not scrolled away.
    const links = page.locator('nav[aria-label="Sections"] a');
    const n = await links.count();
    assert.ok(n >= 7, `${path}: ${n} sections`);
    for (let i = 0; i < n; i++) {
      const box = await links.nth(i).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `${path}: section ${i} off screen: ${JSON.stringify(box)}`);
    }
  }
  // The restart dialog fits the phone too.
  await page.goto(`${server.url}/services/api`);
  // The button works once the page's code has taken it over (its chunk comes with the page).
  await waitForHydration(page);
  await page.locator('tr[data-host="builder-api-live-1"] [data-testid="restart-open"]').click();
  await page.getByTestId('restart-preview').waitFor();
  const dialogWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(dialogWidth <= 375, `the restart dialog makes the page ${dialogWidth} px wide`);
  const box = await page.getByTestId('restart-dialog').boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `the dialog is off screen: ${JSON.stringify(box)}`);
  await page.screenshot({ path: screenshotPath('phone-restart-dialog') });
  await page.goto(`${server.url}/environments/live/hosts/builder-api-live-1`);
  await page.screenshot({ path: screenshotPath('phone-host'), fullPage: true });
  await page.context().clearCookies();
  await page.goto(`${server.url}/signin`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `the sign-in page is ${width} px wide`);
  await page.screenshot({ path: screenshotPath('phone-signin'), fullPage: true });
  assert.deepEqual(await problems.list(), []);
  await page.close();
});

/** Where `selector`'s first element is, as the page lays it out (document coordinates). */
async function boxOf(page, selector) {
  return page.evaluate((sel) => {
    const r = document.querySelector(sel)?.getBoundingClientRect();
    return r && { top: r.top + window.scrollY, left: r.left, right: r.right, bottom: r.bottom + window.scrollY };
  }, selector);
}

test('at 375 px each row\'s action is on screen without swiping, and content starts in the first screen', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 375, height: 740 });
  await devSignIn(page, server.url, { name: 'ana', role: 'responder' });
  mkdirSync('/tmp/phone-shots', { recursive: true });

  // The host page: each service a stacked row, its "Restart…" inside the screen's width.
  await page.goto(`${server.url}/environments/live/hosts/builder-api-live-1`);
  await page.locator('h1').first().waitFor();
  const restarts = page.locator('table.services-table [data-testid="restart-open"]');
  await restarts.first().waitFor();
  const n = await restarts.count();
  assert.ok(n >= 1, 'no Restart… button on the host page');
  for (let i = 0; i < n; i++) {
    const box = await restarts.nth(i).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375,
      `Restart… ${i} is outside the screen's width: ${JSON.stringify(box)}`);
  }
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 375);
  // The page's content starts in the first screen, not below 290 px of header and banners.
  const main = await boxOf(page, 'main');
  const h1 = await boxOf(page, 'main h1');
  assert.ok(main.top <= 200, `the content starts at ${main.top} px`);
  assert.ok(h1.top <= 200, `the host page's title starts at ${h1.top} px`);
  await page.screenshot({ path: '/tmp/phone-shots/host-375.png' });
  await page.screenshot({ path: '/tmp/phone-shots/host-375-full.png', fullPage: true });

  // A service's page: each instance a stacked row, its "Restart…" inside the screen too.
  await page.goto(`${server.url}/services/api`);
  const instanceRestarts = page.locator('[data-testid="instances"] [data-testid="restart-open"]');
  await instanceRestarts.first().waitFor();
  const k = await instanceRestarts.count();
  assert.ok(k >= 2, 'a Restart… per instance (live and acceptance)');
  for (let i = 0; i < k; i++) {
    const box = await instanceRestarts.nth(i).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375,
      `the service page's Restart… ${i} is outside the screen's width: ${JSON.stringify(box)}`);
  }
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 375);
  await page.screenshot({ path: '/tmp/phone-shots/service-375.png', fullPage: true });

  // The team view: "Still to do" of every person is inside the screen.
  await page.goto(`${server.url}/onboarding`);
  await page.locator('h1').first().waitFor();
  const todo = page.locator('[data-testid="team-table"] td.todo');
  await page.locator('[data-testid="team-row"]').first().waitFor();
  const m = await todo.count();
  assert.ok(m >= 1, 'no team rows');
  for (let i = 0; i < m; i++) {
    const box = await todo.nth(i).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375,
      `"Still to do" ${i} is outside the screen's width: ${JSON.stringify(box)}`);
  }
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 375);
  assert.ok((await boxOf(page, 'main h1')).top <= 200);
  await page.screenshot({ path: '/tmp/phone-shots/team-375.png', fullPage: true });

  // The wide layout is left as it was: a table, each row on one line.
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(`${server.url}/environments/live/hosts/builder-api-live-1`);
  await restarts.first().waitFor();
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('table.services-table tr')).display), 'table-row');
  await page.screenshot({ path: '/tmp/phone-shots/host-1400.png', fullPage: true });
  await page.goto(`${server.url}/onboarding`);
  await page.locator('[data-testid="team-row"]').first().waitFor();
  await page.screenshot({ path: '/tmp/phone-shots/team-1400.png', fullPage: true });
  assert.deepEqual(await problems.list(), []);
  await page.close();
});
