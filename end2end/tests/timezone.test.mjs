// Issue #28, point 12: one rule for time on every page. Each time is shown in the person's
// chosen zone, else their browser's, with the zone written next to it: the on-call calendar (whose
// rotation keeps its own zone), the header, the audit log. A person's choice follows them to
// another browser in another zone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, launchBrowser, watchProblems, devSignIn, waitForHydration, screenshotPath } from '../lib/harness.mjs';

let world;

before(async () => {
  // The rotation counts its shifts in Los Angeles time: no reader here is in that zone.
  const start = new Date(Date.now() - 24 * 3600_000).toISOString().slice(0, 19);
  world = await startWorld({
    config: `[oncall]\nmembers = ["tz-ana", "bo", "cy"]\nstart = "${start}"\ntime_zone = "America/Los_Angeles"\nshift_hours = 72\n`,
  });
});

after(async () => {
  await world?.stop();
});

/** The zone abbreviation a time text ends with (`… 09:00 JST` → `JST`). */
const zoneOf = (text) => text.trim().split(/\s+/).pop();

async function timesIn(page, zone) {
  await page.goto(`${world.server.url}/oncall`);
  await waitForHydration(page);
  const when = page.getByTestId('oncall-calendar').locator('[data-testid="calendar-when"]').first();
  const text = await when.textContent();
  assert.ok(text.includes(zone) && !text.includes('PST') && !text.includes('UTC'), `calendar: ${text}`);
  const until = await page.getByTestId('oncall-until').textContent();
  assert.equal(zoneOf(until), zone, `header: ${until}`);

  await page.goto(`${world.server.url}/audit`);
  await waitForHydration(page);
  const cell = page.getByTestId('audit-rows').locator('tbody tr').first().locator('td').nth(1);
  const at = await cell.textContent();
  assert.match(at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} /, at);
  assert.equal(zoneOf(at), zone, `audit: ${at}`);
}

test("times follow the browser's zone, then the person's choice, on every page and in every browser", async () => {
  const tokyo = await launchBrowser({ timezoneId: 'Asia/Tokyo' });
  const newYork = await launchBrowser({ timezoneId: 'America/New_York' });
  try {
    const page = await tokyo.context.newPage();
    const problems = watchProblems(page);
    await devSignIn(page, world.server.url, { name: 'tz-ana', role: 'responder', next: '/settings' });
    await waitForHydration(page);
    const now = page.getByTestId('zone-now');
    assert.match(await now.textContent(), /Asia\/Tokyo \(your browser's zone\)/);
    await timesIn(page, 'JST');

    // Choose a zone: every page follows, and says it is the person's setting.
    await page.goto(`${world.server.url}/settings`);
    await waitForHydration(page);
    await page.locator('#zone-choice').selectOption('Europe/Berlin');
    await Promise.all([
      page.waitForEvent('load'),
      page.getByTestId('zone-form').getByRole('button', { name: 'Save' }).click(),
    ]);
    await page.getByTestId('zone-now').filter({ hasText: 'Europe/Berlin (your setting)' }).waitFor();
    await page.screenshot({ path: screenshotPath('settings-zone'), fullPage: true });
    await timesIn(page, 'CET');
    await page.screenshot({ path: screenshotPath('audit-in-cet'), fullPage: false });
    assert.deepEqual(await problems.list(), [], 'no request failed, nothing logged an error');

    // The same person in a browser in New York: their choice, not that browser's zone.
    const other = await newYork.context.newPage();
    await devSignIn(other, world.server.url, { name: 'tz-ana', role: 'responder', next: '/settings' });
    await waitForHydration(other);
    assert.match(await other.getByTestId('zone-now').textContent(), /Europe\/Berlin \(your setting\)/);
    await timesIn(other, 'CET');

    // Back to following the browser: New York's zone.
    await other.goto(`${world.server.url}/settings`);
    await waitForHydration(other);
    await other.locator('#zone-choice').selectOption('');
    await Promise.all([
      other.waitForEvent('load'),
      other.getByTestId('zone-form').getByRole('button', { name: 'Save' }).click(),
    ]);
    await other.getByTestId('zone-now').filter({ hasText: "America/New_York (your browser's zone)" }).waitFor();
    await timesIn(other, 'EST');
  } finally {
    await tokyo.close();
    await newYork.close();
  }
});
