// At 375 px (a phone) no page scrolls sideways and every section of the navigation can be
// reached: the on-call engineer's phone at 3 a.m. Each page of the app, with a real simulated
// fleet's values in its parameters, as an admin (who sees every page).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startSim, launchBrowser, watchProblems, screenshotPath, devSignIn } from '../lib/harness.mjs';

let sim, server, browser;

before(async () => {
  sim = await startSim();
  server = await startServer({
    env: { ONWATCH_INVENTORY__SOURCE: 'static', ONWATCH_INVENTORY__FLEET_FILE: sim.fleetFile },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await sim?.stop();
});

const PAGES = [
  '/', '/environments', '/environments/live', '/environments/live/hosts/builder-api-live-1',
  '/releases', '/broken', '/services', '/services/api', '/actions', '/audit', '/console',
  '/oncall', '/onboarding', '/admin/sessions',
];

test('no page is wider than a 375 px phone, and every section is reachable', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 375, height: 800 });
  await devSignIn(page, server.url, { name: 'phone-admin', role: 'admin' });
  for (const path of PAGES) {
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
