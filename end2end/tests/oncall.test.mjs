// The on-call team in the browser: tick an onboarding item and see the team view change; ask
// for cover, have the covering person accept it in their own browser, and see "on call now"
// change in every page's header; read the shift's handoff, which lists an action taken in it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, launchBrowser, watchProblems, devSignIn, waitForHydration, screenshotPath,
} from '../lib/harness.mjs';

let world, sim, server, browser;

/** The rotation: ana, bo, cy in UTC, shift 0 started an hour ago (ana primary, bo secondary). */
function rotation() {
  const start = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19);
  return `[oncall]\nmembers = ["ana", "bo", "cy"]\nstart = "${start}"\ntime_zone = "UTC"\nshift_hours = 72\n`;
}

before(async () => {
  world = await startWorld({ config: rotation() });
  ({ sim, server, browser } = world);
});

after(async () => {
  await world?.stop();
});

test('tick a checklist item and see the team view change', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'dee', role: 'viewer', next: '/onboarding' });
  await waitForHydration(page);
  const progress = page.locator('tr[data-person="dee"] [data-testid="team-progress"]');
  const before = await progress.innerText();
  const [done] = before.split(' of ').map(Number);
  const vault = page.locator('[data-testid="checklist-item"][data-item="vault"]');
  await vault.getByRole('checkbox').check();
  await page.getByTestId('onboarding-message').filter({ hasText: 'ticked' }).waitFor();
  await progress.filter({ hasText: new RegExp(`^${done + 1} of `) }).waitFor();
  assert.match(await vault.getByTestId('item-how').innerText(), /^ticked by dee \(/);
  // An item Onwatch checks itself cannot be ticked by hand.
  assert.equal(await page.locator('[data-item="github-group"] input[type="checkbox"]').isDisabled(), true);
  await page.screenshot({ path: screenshotPath('onboarding'), fullPage: true });
  await page.setViewportSize({ width: 375, height: 800 });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
  await page.screenshot({ path: screenshotPath('onboarding-phone'), fullPage: true });
  assert.deepEqual(await problems.list(), []);
  await page.close();
});

test('ask for cover, have it accepted, and see who is on call change', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'ana', role: 'responder', next: '/oncall' });
  await waitForHydration(page);
  const strip = page.getByTestId('oncall-strip');
  assert.equal(await strip.getByTestId('oncall-primary').innerText(), 'ana');
  assert.equal(await strip.getByTestId('oncall-secondary').innerText(), 'bo');

  const form = page.getByTestId('cover-form');
  // The other seat's holder of that shift (bo) is not offered: the server would refuse them.
  const offered = await form.getByTestId('cover-who').locator('option').allTextContents();
  assert.ok(offered.includes('cy') && !offered.includes('bo') && !offered.includes('ana'), offered.join(', '));
  // A refusal is said under the form that asked, and takes the focus there.
  await form.getByTestId('cover-reason').fill('nobody chosen');
  await form.getByRole('button', { name: 'Ask for cover' }).click();
  const refusal = form.getByTestId('cover-answer');
  await refusal.waitFor();
  assert.equal(await refusal.getAttribute('role'), 'alert');
  assert.ok((await refusal.innerText()).length > 0);
  await page.waitForFunction(() => document.activeElement?.dataset.testid === 'cover-answer');
  await page.screenshot({ path: screenshotPath('oncall-refusal-by-the-form') });
  await form.getByTestId('cover-who').selectOption('cy');
  await form.getByTestId('cover-reason').fill('flying on Tuesday');
  await form.getByRole('button', { name: 'Ask for cover' }).click();
  await page.getByTestId('oncall-message').filter({ hasText: 'Asked cy to cover' }).waitFor();
  // Pending: still ana.
  const request = page.getByTestId('override-request').first();
  assert.match(await request.innerText(), /ana asks cy to cover/);
  assert.match(await request.innerText(), /pending/);
  assert.equal(await page.getByTestId('now-primary').innerText(), 'ana');

  // Cy, in a browser of their own, accepts.
  const other = await launchBrowser();
  try {
    const cyPage = await other.context.newPage();
    const cyProblems = watchProblems(cyPage);
    await devSignIn(cyPage, server.url, { name: 'cy', role: 'viewer', next: '/oncall' });
    await waitForHydration(cyPage);
    const mine = cyPage.getByTestId('requests-for-me');
    assert.match(await mine.innerText(), /flying on Tuesday/);
    await mine.getByRole('button', { name: 'Accept' }).click();
    await cyPage.getByTestId('oncall-message').filter({ hasText: 'The request is accepted.' }).waitFor();
    await cyPage.getByTestId('now-primary').filter({ hasText: /^cy$/ }).waitFor();
    assert.deepEqual(await cyProblems.list(), []);
  } finally {
    await other.close();
  }

  // Every page's header says so: the dashboard, for one.
  await page.goto(`${server.url}/`);
  await waitForHydration(page);
  assert.equal(await page.getByTestId('oncall-strip').getByTestId('oncall-primary').innerText(), 'cy');
  assert.match(await page.getByTestId('oncall-card').innerText(), /cy primary · bo secondary/);
  await page.goto(`${server.url}/oncall`);
  const current = page.locator('table[data-testid="oncall-calendar"] tr.current').last();
  assert.match(await current.innerText(), /cy \(covering\)/);
  await page.screenshot({ path: screenshotPath('oncall'), fullPage: true });
  // At a phone's width the page does not scroll sideways (the calendar scrolls in its box).
  await page.setViewportSize({ width: 375, height: 800 });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
  await page.screenshot({ path: screenshotPath('oncall-phone'), fullPage: true });
  await page.setViewportSize({ width: 1400, height: 900 });
  assert.deepEqual(await problems.list(), []);
  await page.close();
});

test('the handoff of the shift under way lists an action taken in it', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'bo', role: 'responder', next: '/' });
  await waitForHydration(page);
  // A restart in acceptance, asked for as the page's own script asks (same session, same origin).
  const answer = await page.evaluate(async () => {
    const body = new URLSearchParams({
      kind: 'restart_service', environment: 'acceptance', host: 'builder-api-acceptance-1',
      service_group: 'builder-api.acceptance', reason: 'handoff journey', confirmation: 'builder-api',
      idempotency_key: `handoff-${Date.now()}`,
    });
    const res = await fetch('/api/attempt/action', { method: 'POST', body });
    return { status: res.status, json: await res.json() };
  });
  assert.equal(answer.status, 200, JSON.stringify(answer));
  const id = answer.json.Started?.id;
  assert.ok(id, JSON.stringify(answer));
  await page.goto(`${server.url}/actions/${id}`);
  await page.getByTestId('action-state').filter({ hasText: 'succeeded' }).waitFor({ timeout: 30_000 });

  await page.goto(`${server.url}/oncall`);
  await waitForHydration(page);
  const handoff = page.getByTestId('handoff-current');
  const action = handoff.getByTestId('handoff-actions').locator(`a[href="/actions/${id}"]`);
  assert.equal(await action.innerText(), 'restart service acceptance/builder-api-acceptance-1 builder-api.acceptance');
  assert.match(await action.locator('xpath=..').innerText(), /by bo, .*succeeded/);
  assert.deepEqual(await problems.list(), []);
  await page.close();
});
