// The on-call team in the browser: tick an onboarding item and see the team view change; ask
// for cover, have the covering person accept it in their own browser, and see "on call now"
// change in every page's header; read the shift's handoff, which lists an action taken in it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import {
  startWorld, launchBrowser, watchProblems, devSignIn, waitForHydration, screenshotPath,
} from '../lib/harness.mjs';

let world, sim, server, browser;

const HOUR = 3_600_000;
/** Shift 0's start, a wall-clock time in UTC: an hour ago. */
const start = new Date(Date.now() - HOUR).toISOString().slice(0, 19);
/** Shift `k`'s start, epoch ms (shifts of 72 real hours). */
const shiftStart = (k) => Date.parse(`${start}Z`) + k * 72 * HOUR;

/** The rotation: ana, bo, cy in UTC, shift 0 started an hour ago (ana primary, bo secondary). */
function rotation() {
  return `[oncall]\nmembers = ["ana", "bo", "cy"]\nstart = "${start}"\ntime_zone = "UTC"\nshift_hours = 72\n`;
}

/** A part of a shift in the calendar: its primary's (secondary's) name and whole cell. */
function seat(part, which) {
  const cell = part.getByTestId(`calendar-${which}`);
  return { cell, who: cell.locator('.cal-who') };
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
  const current = page.getByTestId('oncall-calendar')
    .locator('[data-testid="calendar-shift"].current [data-testid="calendar-part"]').last();
  assert.equal(await seat(current, 'primary').who.innerText(), 'cy');
  assert.match(await seat(current, 'primary').cell.innerText(), /\(covering ana\)/);
  await page.screenshot({ path: screenshotPath('oncall'), fullPage: true });
  // At a phone's width the page does not scroll sideways.
  await page.setViewportSize({ width: 375, height: 800 });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
  await page.screenshot({ path: screenshotPath('oncall-phone'), fullPage: true });
  await page.setViewportSize({ width: 1400, height: 900 });
  assert.deepEqual(await problems.list(), []);
  await page.close();
});

test('a cover of part of a shift leaves the rest to its holder, in the calendar and the pickers', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'ana', role: 'responder', next: '/oncall' });
  await waitForHydration(page);
  // Shift 3: ana primary, bo secondary. Cy covers its first 24 hours.
  const form = page.getByTestId('cover-form');
  await form.getByTestId('cover-shift').selectOption(`3@${shiftStart(3)}`);
  await form.locator('#cover-to').fill(new Date(shiftStart(3) + 24 * HOUR).toISOString().slice(0, 16));
  await form.getByTestId('cover-who').selectOption('cy');
  await form.getByTestId('cover-reason').fill('the first day of shift 3');
  await form.getByRole('button', { name: 'Ask for cover' }).click();
  await page.getByTestId('oncall-message').filter({ hasText: 'Asked cy to cover' }).waitFor();
  const other = await launchBrowser();
  try {
    const cyPage = await other.context.newPage();
    const cyProblems = watchProblems(cyPage);
    await devSignIn(cyPage, server.url, { name: 'cy', role: 'responder', next: '/oncall' });
    await waitForHydration(cyPage);
    const mine = cyPage.getByTestId('requests-for-me');
    assert.match(await mine.innerText(), /the first day of shift 3/);
    await mine.getByRole('button', { name: 'Accept' }).click();
    await cyPage.getByTestId('oncall-message').filter({ hasText: 'The request is accepted.' }).waitFor();
    // Cy's coming shifts hold the 24 hours they cover.
    const cys = cyPage.getByTestId('my-part').and(cyPage.locator('[data-shift="3"]'));
    await cys.filter({ hasText: /^#3 primary: .* \(covering\)$/ }).waitFor();
    assert.equal(await cys.count(), 1);
    assert.deepEqual(await cyProblems.list(), []);
  } finally {
    await other.close();
  }

  await page.reload();
  await waitForHydration(page);
  // The calendar: two parts of shift 3, each with who holds primary and secondary in it.
  const shift3 = page.getByTestId('oncall-calendar').locator('[data-testid="calendar-shift"][data-shift="3"]');
  const parts = shift3.getByTestId('calendar-part');
  await parts.nth(1).waitFor();
  assert.equal(await parts.count(), 2);
  assert.equal(await seat(parts.nth(0), 'primary').who.innerText(), 'cy');
  assert.match(await seat(parts.nth(0), 'primary').cell.innerText(), /\(covering ana\)/);
  assert.equal(await parts.nth(0).getAttribute('data-covered'), 'true');
  assert.equal(await seat(parts.nth(1), 'primary').who.innerText(), 'ana');
  assert.doesNotMatch(await seat(parts.nth(1), 'primary').cell.innerText(), /covering/);
  assert.equal(await parts.nth(1).getAttribute('data-covered'), 'false');
  for (const i of [0, 1]) assert.equal(await seat(parts.nth(i), 'secondary').who.innerText(), 'bo');
  // Ana's coming shifts keep the other 48 hours, and both pickers offer them.
  const anas = page.getByTestId('my-part').and(page.locator('[data-shift="3"]'));
  assert.equal(await anas.count(), 1);
  assert.match(await anas.innerText(), /^#3 primary: /);
  assert.doesNotMatch(await anas.innerText(), /covering/);
  const values = (id) => page.getByTestId(id).locator('option').evaluateAll((os) => os.map((o) => o.value));
  const rest = (await values('cover-shift')).filter((v) => v.startsWith('3@'));
  assert.equal(rest.length, 1, rest.join(', '));
  assert.notEqual(rest[0], `3@${shiftStart(3)}`, 'the part starts after the cover, not at the shift');
  assert.ok((await values('swap-mine')).includes(rest[0]));
  // What the picker offers, the server accepts: the rest, to cy (asked, then cancelled).
  await form.getByTestId('cover-shift').selectOption(rest[0]);
  await form.locator('#cover-to').fill('');
  await form.getByTestId('cover-who').selectOption('cy');
  await form.getByTestId('cover-reason').fill('the rest of shift 3');
  await form.getByRole('button', { name: 'Ask for cover' }).click();
  await page.getByTestId('oncall-message').filter({ hasText: 'Asked cy to cover' }).waitFor();
  const asked = page.getByTestId('override-request').filter({ hasText: 'the rest of shift 3' }).first();
  await asked.getByRole('button', { name: 'Cancel the request' }).click();
  await page.getByTestId('oncall-message').filter({ hasText: 'The request is cancelled.' }).waitFor();
  await mkdir('/tmp/oncall-shots', { recursive: true });
  await shift3.scrollIntoViewIfNeeded();
  await page.screenshot({ path: '/tmp/oncall-shots/oncall-partial-1400.png', fullPage: true });
  await shift3.screenshot({ path: '/tmp/oncall-shots/oncall-partial-1400-shift3.png' });

  // A phone: the calendar is stacked, not a wide table; each part's secondary is on the
  // screen, its dates are not broken a word a line, and the page does not scroll sideways.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForFunction(() => window.innerWidth === 375);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375),
    `the page is ${await page.evaluate(() => document.documentElement.scrollWidth)} px wide`);
  for (const i of [0, 1]) {
    const part = parts.nth(i);
    const secondary = await seat(part, 'secondary').cell.boundingBox();
    assert.ok(secondary.x >= 0 && secondary.x + secondary.width <= 375, JSON.stringify(secondary));
    const line = (await seat(part, 'primary').who.boundingBox()).height;
    for (const time of await part.locator('.cal-time').all()) {
      const box = await time.boundingBox();
      assert.ok(box.height < 1.6 * line, `a date on one line: ${box.height} vs ${line}`);
      assert.ok(box.x >= 0 && box.x + box.width <= 375, JSON.stringify(box));
    }
  }
  // The page's content starts in the first screen: who is on call now, then the calendar.
  const now = await page.getByTestId('oncall-now').boundingBox();
  assert.ok(now.y < 800, JSON.stringify(now));
  await page.screenshot({ path: '/tmp/oncall-shots/oncall-partial-375.png', fullPage: true });
  await page.screenshot({ path: '/tmp/oncall-shots/oncall-partial-375-first-screen.png' });
  await shift3.screenshot({ path: '/tmp/oncall-shots/oncall-partial-375-shift3.png' });
  await page.getByTestId('my-shifts').screenshot({ path: '/tmp/oncall-shots/oncall-partial-375-my-shifts.png' });
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
