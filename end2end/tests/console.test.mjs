// The shard console as the on-call engineer uses it: locate core's shard and query it, query all
// 128 shards with one shard broken (listed as failed while the others' rows show), download the
// CSV, have a write refused with its reason; a viewer may browse but not run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startServer, launchBrowser, watchProblems, devSignIn, waitForHydration, screenshotPath, seedDatastore,
} from '../lib/harness.mjs';

let server, browser, datastore;

before(async () => {
  const prefix = `e2e_console_${process.pid}_${Date.now()}`;
  datastore = seedDatastore(prefix);
  // Shard 7 loses a table: a query that reads it fails there and only there.
  datastore.psql('builder_originsrv', 'DROP TABLE shard_7.origin_members');
  const dir = mkdtempSync(path.join(tmpdir(), 'onwatch-console-'));
  const config = path.join(dir, 'onwatch.toml');
  writeFileSync(config, [
    '[environments.live]', 'production = true', '[environments.acceptance]', 'production = false', '',
    datastore.configFor('live'),
  ].join('\n'));
  server = await startServer({ args: ['--config', config] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  datastore?.drop();
});

async function runQuery(page, shards, sql) {
  await page.getByTestId('console-shards').fill(shards);
  await page.getByTestId('console-sql').fill(sql);
  await page.getByTestId('console-run').click();
  const result = page.getByTestId('console-result');
  await result.waitFor();
  return result;
}

test('locate core, query its shard, then all shards with one broken, and download the CSV', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await devSignIn(page, server.url, { name: 'console-responder', role: 'responder', next: '/console' });
  const res = await page.goto(`${server.url}/console`);
  assert.equal(res.status(), 200);
  await waitForHydration(page);
  // The database as the console sees it: 128 shards, a read-only role (no red warning).
  const note = page.getByTestId('console-db-note');
  await note.waitFor();
  assert.match(await note.innerText(), /128 shards/);
  assert.match(await note.innerText(), /onwatch_ro/);
  assert.equal(await page.getByTestId('console-role-warning').count(), 0);

  // The locator: core → shard_30, one click sets the target.
  await page.getByTestId('locate-input').fill('core');
  await page.getByTestId('locate-run').click();
  const located = page.getByTestId('locate-result');
  await located.waitFor();
  assert.match(await located.innerText(), /core\s*→\s*shard_30/);
  await page.getByTestId('locate-use').click();
  assert.equal(await page.getByTestId('console-shards').inputValue(), '30');
  await page.getByTestId('console-sql').fill("SELECT name, id FROM origins WHERE name = 'core'");
  await page.getByTestId('console-run').click();
  let result = page.getByTestId('console-result');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-state'), 'complete');
  const rows = page.locator('[data-testid="console-grid"] tbody tr');
  assert.equal(await rows.count(), 1);
  assert.equal(await rows.first().getAttribute('data-shard'), '30');
  assert.equal(await rows.first().locator('td').nth(1).innerText(), 'core');
  // One row: said in the singular.
  assert.match(await page.getByTestId('console-state').innerText(), / — 1 row from 1 of 1 shard in \d+ ms$/);

  // All shards, one of them broken: listed as failed, the others' rows are there, marked partial.
  result = await runQuery(page, 'all', 'SELECT origin_name, account_name FROM origin_members ORDER BY origin_name');
  await page.waitForFunction(() => document.querySelector('[data-testid="console-result"]')?.dataset.state === 'partial');
  const failed = page.getByTestId('console-failed');
  assert.match(await failed.innerText(), /1 shard failed/);
  const failedShard = failed.locator('li[data-shard="7"]');
  assert.match(await failedShard.innerText(), /shard_7.*origin_members/s);
  assert.match(await page.getByTestId('console-state').innerText(), /from 127 of 128 shards/);
  const total = Number((await page.getByTestId('console-state').innerText()).match(/(\d+) rows? from/)[1]);
  assert.ok(total > 1400, `${total} rows`);
  // The grid draws the first 1,000 and says so; the download has them all.
  assert.equal(await rows.count(), 1000);
  // A thousand rows scroll in their own box, not the page.
  const box = await page.getByTestId('console-grid-box').evaluate((el) => ({
    overflowY: getComputedStyle(el).overflowY, client: el.clientHeight, scroll: el.scrollHeight,
  }));
  assert.equal(box.overflowY, 'auto');
  assert.ok(box.client <= 640 && box.scroll > box.client * 5, JSON.stringify(box));
  assert.ok(await page.evaluate(() => document.documentElement.scrollHeight < 4000), 'the page stays short');
  assert.match(await page.locator('.downloads').innerText(), new RegExp(`first 1000 of ${total} rows`));
  assert.equal(await page.locator('[data-testid="console-grid"] tbody tr[data-shard="7"]').count(), 0);
  // Sorting by shard, descending, puts shard 127 first.
  await page.locator('[data-testid="console-grid"] th button[data-column="shard"]').click();
  await page.locator('[data-testid="console-grid"] th button[data-column="shard"]').click();
  assert.equal(await rows.first().getAttribute('data-shard'), '127');
  await page.screenshot({ path: screenshotPath('console-partial-desktop') });

  // The CSV: every row, with its shard, and the header.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('console-csv').click()]);
  const file = await download.path();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
  assert.equal(lines[0], 'shard,origin_name,account_name');
  assert.equal(lines.length - 1, total);
  assert.ok(lines.slice(1).every((l) => /^\d+,/.test(l) && !l.startsWith('7,')));

  // A write is refused, with the reason, and nothing runs.
  await page.getByTestId('console-sql').fill('DELETE FROM origins');
  await page.getByTestId('console-run').click();
  const refused = page.getByTestId('console-refused');
  await refused.waitFor();
  assert.match(await refused.innerText(), /never writes/);
  assert.equal(await page.getByTestId('console-result').count(), 0);

  // The history lists what ran, newest first.
  const history = page.getByTestId('console-history');
  await history.getByText('SELECT origin_name, account_name').first().waitFor();
  assert.deepEqual(await problems.list(), []);
  await page.setViewportSize({ width: 375, height: 800 });
  await page.screenshot({ path: screenshotPath('console-phone'), fullPage: true });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `the console is ${width} px wide on a phone`);
});

test('a viewer can browse the tables but not run a query', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'console-viewer', role: 'viewer', next: '/console' });
  await page.goto(`${server.url}/console`);
  await waitForHydration(page);
  const denied = page.getByTestId('console-denied');
  await denied.waitFor();
  assert.match(await denied.innerText(), /responder role/);
  assert.equal(await page.getByTestId('console-run').count(), 0);
  const browse = page.getByTestId('console-browse');
  await browse.getByText('origins', { exact: true }).first().waitFor();
  assert.deepEqual(await problems.list(), []);
});
