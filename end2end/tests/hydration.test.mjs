// Every page that draws live data hydrates cleanly while the fleet changes under it. A resource
// created late (inside a closure, after a Suspense that waited) once saw the version the event
// stream had just announced instead of the one the server drew with, refetched during
// hydration, and the sentinel's page failed to hydrate about one load in five. Restarts keep the
// fleet's version moving while the pages are loaded again and again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, watchProblems, devSignIn, devSessionCookie, waitForHydration,
} from '../lib/harness.mjs';

let world, sim, server, browser;

before(async () => {
  world = await startWorld();
  ({ sim, server, browser } = world);
});

after(async () => {
  await world?.stop();
});

const PAGES = ['/services/sentinel', '/services/api', '/environments/acceptance/hosts/builder-api-acceptance-1', '/'];

test('pages hydrate without error while restarts change the fleet', async () => {
  const cookie = await devSessionCookie(server.url, { name: 'hydration-responder', role: 'responder' });
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'hydration-admin', role: 'admin' });
  for (let round = 0; round < 4; round++) {
    const res = await fetch(`${server.url}/api/attempt/action`, {
      method: 'POST',
      headers: { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        kind: 'restart_service', environment: 'acceptance', host: 'builder-api-acceptance-1',
        service_group: 'builder-api.acceptance', reason: 'keep the fleet moving', confirmation: 'builder-api',
        idempotency_key: `hydration-${round}-${Date.now()}`,
      }).toString(),
    });
    assert.equal(res.status, 200);
    const answer = await res.json();
    // A restart of the same target within the cooldown is refused; the fleet still moves from the first.
    assert.ok(answer.Started || answer.Refused, JSON.stringify(answer));
    for (const path of PAGES) {
      for (let i = 0; i < 3; i++) {
        const loaded = await page.goto(server.url + path);
        assert.equal(loaded.status(), 200, path);
        // Hydrated: the app marks <body> once the browser half has taken over.
        await page.locator('h1').first().waitFor();
        await waitForHydration(page);
        // What hydrates after the resources resolve does so in the tasks that follow.
        await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0))));
        assert.deepEqual(await problems.list(), [], `${path}, round ${round}, load ${i}`);
      }
    }
  }
  await page.close();
});
