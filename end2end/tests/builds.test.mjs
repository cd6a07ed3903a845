// "Deploying code" as the runbook says it, in the browser: from a service's page, request a new
// build in acceptance (reason; no typed confirmation outside production), then watch the job
// group's state go to Complete and the new release reach the environment's Supervisor, live.
// In live the same button asks for the environment in the typed confirmation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, watchProblems, devSignIn, waitForHydration, screenshotPath,
} from '../lib/harness.mjs';

let world, sim, server, browser;

before(async () => {
  world = await startWorld();
  ({ sim, server, browser } = world);
});

after(async () => {
  await world?.stop();
});

test('request a build in acceptance and watch it complete and roll out', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  // A build that takes long enough to be seen running.
  await sim.buildFault({ environment: 'acceptance', fault: 'build_ms', ms: 3000 });
  await devSignIn(page, server.url, { name: 'build-responder', role: 'responder', next: '/services/api' });
  await waitForHydration(page);
  const before = (await page.locator('tr[data-host="builder-api-acceptance-1"] td.mono').innerText()).trim();

  const deploy = page.getByTestId('deploy-fix');
  await deploy.locator('[data-kind="request_build"][aria-label="Request a build of builder-api in acceptance"]').click();
  const dialog = page.getByTestId('restart-dialog');
  await dialog.getByTestId('restart-preview').waitFor();
  // Where the release will land, and no typed confirmation outside production.
  assert.match(await dialog.getByTestId('blast-radius').innerText(), /builder-api-acceptance-1: builder-api\.acceptance/);
  assert.equal(await dialog.getByTestId('restart-confirm').count(), 0);
  await dialog.getByTestId('restart-reason').fill('the fix for the 502s is merged');
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith('/actions/')),
    dialog.getByTestId('restart-submit').click(),
  ]);

  // The job group, live: dispatched (the project in progress), then complete.
  const progress = page.getByTestId('build-progress');
  await progress.locator('[data-testid="project-state"]', { hasText: 'InProgress' }).waitFor();
  await page.screenshot({ path: screenshotPath('build-running'), fullPage: true });
  await page.getByTestId('action-state').filter({ hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
  const summary = await page.getByTestId('action-summary').innerText();
  assert.match(summary, /^built \S+; running on 1 Supervisor after \d+ s$/);
  const built = summary.match(/^built (\S+);/)[1];
  assert.match(await page.getByTestId('action-output').innerText(), new RegExp(`builder-api-acceptance-1 runs builder-api/${built}`));
  await page.screenshot({ path: screenshotPath('build-complete'), fullPage: true });

  // The service page shows the new release on that Supervisor.
  // A full load: the service page's chunk arrives after the markup, and a click before
  // hydration lands on a button with no handler yet.
  await page.goto(`${server.url}/services/api`);
  await waitForHydration(page);
  const cell = page.locator('tr[data-host="builder-api-acceptance-1"] td.mono');
  await cell.filter({ hasText: built.split('/')[1] }).waitFor();
  assert.notEqual((await cell.innerText()).trim(), before);

  // In live, the same request asks for the environment in the confirmation.
  await page.locator('[data-kind="request_build"][aria-label="Request a build of builder-api in live"]').click();
  const live = page.getByTestId('restart-dialog');
  await live.getByTestId('restart-preview').waitFor();
  assert.match(await live.locator('label[for="restart-confirm"]').innerText(), /live\/builder-api/);
  await live.getByTestId('restart-reason').fill('roll the fix to production');
  await live.getByTestId('restart-submit').click();
  const refused = live.getByTestId('restart-refused');
  await refused.waitFor();
  assert.match(await refused.locator('li[data-guard="confirmation"]').innerText(), /type `live\/builder-api`/);

  assert.deepEqual(await problems.list(), []);
  await page.close();
});
