// A guarded restart, as the on-call engineer does it with the keyboard alone: from the critical
// cell on the dashboard to the service on its host, the dialog (reason, typed confirmation),
// the live output until it is healthy again, and the row in the audit log. A viewer sees why the
// button is not theirs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, watchProblems, devSignIn, waitForHydration, screenshotPath,
} from '../lib/harness.mjs';

let world, sim, server, browser;

before(async () => {
  // A rotation in which the responder of the first journey is the primary, so that the dialog's
  // "on call" line can be read for what it says (the world's cooldown is 0 s).
  const start = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19);
  world = await startWorld({
    config: `[oncall]\nmembers = ["kbd-responder", "bo"]\nstart = "${start}"\ntime_zone = "UTC"\n`,
  });
  ({ sim, server, browser } = world);
});

after(async () => {
  await world?.stop();
});

/**
 * Presses Tab until the focused element matches `selector` (at most `max` times): the keyboard's
 * way there. By selector, not by element: the dashboard redraws its cells as the fleet changes.
 */
async function tabTo(page, selector, max = 200) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

test('from a critical cell to a healthy service again, by keyboard, and into the audit log', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await sim.fault({ host: 'builder-api-acceptance-1', fault: 'wedged', service: 'builder-api' });
  await devSignIn(page, server.url, { name: 'kbd-responder', role: 'responder', next: '/' });
  await waitForHydration(page);

  // 1. The dashboard's cell turns critical; Enter on it opens the service's page.
  const chipSel = '[aria-label="environment acceptance"] .chip[data-host="builder-api-acceptance-1"][data-service="builder-api"]';
  await page.locator(`${chipSel} [data-state="critical"]`).waitFor();
  await tabTo(page, `${chipSel} > a:first-child`);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/services/api'),
    page.keyboard.press('Enter'),
  ]);

  // 2. The instance's restart button, then the dialog: the reason has the focus.
  const openSel = 'tr[data-host="builder-api-acceptance-1"] [data-testid="restart-open"]';
  await page.locator(openSel).waitFor();
  await tabTo(page, openSel);
  await page.keyboard.press('Enter');
  const dialog = page.getByTestId('restart-dialog');
  await dialog.getByTestId('restart-preview').waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'restart-reason');
  const state = await dialog.getByTestId('restart-preview').locator('[data-state]').first().getAttribute('data-state');
  assert.equal(state, 'critical', 'the preview shows the health now');
  // Who is on call now, and whether the person acting is one of them (as the header says).
  assert.equal(await dialog.getByTestId('dialog-on-call').innerText(), 'primary kbd-responder, secondary bo (you are the primary)');
  // The cooldown says its rule, and that nothing was done here before.
  assert.equal(
    await dialog.locator('[data-guard="cooldown"]').innerText(),
    '✔ cooldown: no action on builder-api-acceptance-1 has been recorded; the cooldown is 0 s',
  );
  await page.keyboard.type('builder-api wedged: health check critical');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'restart-confirm');
  await page.keyboard.type('builder-api');
  await page.screenshot({ path: screenshotPath('restart-dialog-desktop'), fullPage: false });

  // 3. Enter sends it; the action's page follows the output until healthy again.
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith('/actions/')),
    page.keyboard.press('Enter'),
  ]);
  const id = new URL(page.url()).pathname.split('/').pop();
  const outcome = page.getByTestId('action-state');
  await page.waitForFunction(() => document.querySelector('[data-testid=action-state]')?.textContent === 'succeeded', null, { timeout: 40_000 });
  assert.equal(await outcome.textContent(), 'succeeded');
  const output = await page.getByTestId('action-output').textContent();
  for (const step of ['SvcStop', 'is down', 'SvcStart', 'is up', 'healthy again']) {
    assert.ok(output.includes(step), `no "${step}" in the output:\n${output}`);
  }
  await page.screenshot({ path: screenshotPath('action-output-desktop'), fullPage: true });

  // The dialog of the same host again: the cooldown names the restart just done, its age and
  // the rule.
  await page.goto(`${server.url}/services/api`);
  await waitForHydration(page);
  await page.locator(openSel).click();
  await dialog.getByTestId('restart-preview').waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'restart-reason');
  assert.match(
    await dialog.locator('[data-guard="cooldown"]').innerText(),
    /^✔ cooldown: the last action here was kbd-responder's restart of builder-api\.acceptance on builder-api-acceptance-1, .+ ago; the cooldown is 0 s$/,
  );
  // Escape closes it and gives the focus back to the button that opened it.
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await page.waitForFunction((sel) => document.activeElement?.matches(sel) ?? false, openSel);

  // 4. The audit log has the intent and the outcome of this action.
  await page.goto(`${server.url}/audit?host=builder-api-acceptance-1`);
  const rows = page.getByTestId('audit-rows').locator(`tr[data-action="${id}"]`);
  await rows.first().waitFor();
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.kind));
  assert.deepEqual(kinds.sort(), ['action.intent', 'action.outcome']);
  const outcomeRow = page.getByTestId('audit-rows').locator(`tr[data-action="${id}"][data-kind="action.outcome"]`);
  assert.match(await outcomeRow.textContent(), /succeeded/);
  assert.match(await outcomeRow.textContent(), /kbd-responder/);
  assert.deepEqual(await problems.list(), []);
  await page.close();
});

test('a viewer sees why the restart button is not theirs', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'just-looking', role: 'viewer', next: '/services/api' });
  await waitForHydration(page);
  const row = page.locator('tr[data-host="builder-api-acceptance-1"]');
  await row.waitFor();
  assert.equal(await row.getByTestId('restart-open').count(), 0, 'no working button');
  assert.ok(await row.locator('button').first().isDisabled(), 'the button is there, disabled');
  assert.match(await row.getByTestId('restart-denied').textContent(), /responder role \(you: viewer\)/);
  await page.setViewportSize({ width: 375, height: 800 });
  await page.screenshot({ path: screenshotPath('service-viewer-phone'), fullPage: true });
  assert.deepEqual(await problems.list(), []);
  await page.close();
});
