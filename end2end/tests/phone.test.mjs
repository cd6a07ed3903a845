// At 375 px (a phone) no page scrolls sideways and every section of the navigation can be
// reached: the on-call engineer's phone at 3 a.m. Each page of the app, with a real simulated
// fleet's values in its parameters, as an admin (who sees every page).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, watchProblems, screenshotPath, devSignIn, devSessionCookie,
} from '../lib/harness.mjs';

let world, sim, server, browser;

before(async () => {
  world = await startWorld();
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
