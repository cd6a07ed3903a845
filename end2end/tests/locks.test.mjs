// The runbook's stale lock files, from the datastore's service page: the datastore is stopped
// and its log names a stale postmaster.pid (a real sshd, whose journalctl says what postgres
// says); the page lists it with size, owner and age; the guarded removal (production: reason,
// acceptance question, typed confirmation) removes exactly it and starts the datastore.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import {
  startWorld, watchProblems, devSignIn, waitForHydration, screenshotPath,
} from '../lib/harness.mjs';

let world, sim, server, browser, sshd;

before(async () => {
  world = await startWorld({ ssh: ['live', 'acceptance'], locks: true });
  ({ sim, server, browser, sshd } = world);
});

after(async () => {
  await world?.stop();
});

test('a stale postmaster.pid named by the log is removed and the datastore started', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  const pidFile = path.join(sshd.locksDir, 'data', 'postmaster.pid');
  writeFileSync(pidFile, '4194301\n');
  await sim.fault({ host: 'builder-datastore-live-1', fault: 'stopped', service: 'builder-datastore' });
  await devSignIn(page, server.url, { name: 'lock-responder', role: 'responder', next: '/services/datastore' });
  await waitForHydration(page);

  // Only a datastore the fleet has seen stop can have stale lock files.
  await page.waitForFunction(() => {
    const cell = document.querySelector('tr[data-host="builder-datastore-live-1"] [data-state]');
    return cell && cell.dataset.state !== 'healthy';
  });
  const panel = page.getByTestId('lock-files');
  await panel.getByTestId('locks-look').click();
  const host = panel.locator('.lock-host[data-host="builder-datastore-live-1"]');
  const row = host.locator(`tr[data-path="${pidFile}"]`);
  await row.waitFor();
  assert.equal(await row.getByTestId('lock-verdict').innerText(), 'yes');
  assert.match(await row.innerText(), /8 B/);
  assert.match(await row.innerText(), /lock file "postmaster\.pid" already exists/);
  // Where nothing is stale (the acceptance datastore runs), it says so: clean, not an error.
  const clean = panel.locator('.lock-host[data-host="builder-datastore-acceptance-1"]');
  await clean.getByTestId('locks-clean').waitFor();
  assert.equal(await clean.getByTestId('locks-error').count(), 0);
  assert.match(await clean.getByTestId('locks-clean').innerText(), /names no lock file/);
  await page.screenshot({ path: screenshotPath('locks-found'), fullPage: true });

  await host.locator('[data-kind="remove_lock_files"]').click();
  const dialog = page.getByTestId('restart-dialog');
  await dialog.getByTestId('restart-preview').waitFor();
  assert.equal(await dialog.getByTestId('lock-paths').innerText(), pidFile);
  await dialog.getByTestId('restart-reason').fill('the datastore will not start: stale postmaster.pid');
  await dialog.locator('input[name="tried"][value="no"]').check();
  await dialog.getByTestId('restart-confirm').fill('live/builder-datastore');
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith('/actions/')),
    dialog.getByTestId('restart-submit').click(),
  ]);
  await page.getByTestId('action-state').filter({ hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
  assert.match(await page.getByTestId('action-summary').innerText(), /^1 lock file removed; the datastore is healthy again/);
  assert.match(await page.getByTestId('action-output').innerText(), new RegExp(`removed ${pidFile.replace(/[.]/g, '\\.')}`));
  assert.equal(existsSync(pidFile), false);
  // The host's check of the file is said in words; its raw report is behind "details".
  const said = await page.getByTestId('action-output').innerText();
  assert.doesNotMatch(said, /^F\t/m, said);
  assert.match(said, new RegExp(`${pidFile.replace(/[.]/g, '\\.')}: file, \\d+ B, owned by \\S+, .+ old, held by nothing`), said);
  await page.screenshot({ path: screenshotPath('locks-removed'), fullPage: true });

  // Back on the datastore's page with the datastore running again: the log still names the
  // file (and a running postgres has one of that name), but nothing is offered for removal.
  writeFileSync(pidFile, '4194301\n');
  await page.goto(`${server.url}/services/datastore`);
  await waitForHydration(page);
  await panel.getByTestId('locks-look').click();
  // Whether the log still names it or not (a started postgres logs no new error), nothing is
  // offered for removal, and a file listed says why.
  const again = host.locator(`tr[data-path="${pidFile}"]`);
  await host.locator(`tr[data-path="${pidFile}"], [data-testid="locks-clean"]`).first().waitFor();
  if (await again.count()) {
    assert.match(await again.getByTestId('lock-verdict').innerText(), /^no: the datastore runs and is healthy here/);
  }
  assert.equal(await host.locator('[data-kind="remove_lock_files"]').count(), 0);
  assert.deepEqual(await problems.list(), []);
  await page.close();
});
