// The sentinel's page says whether it runs: a responder presses "Check whether the sentinel
// runs", Onwatch reads its unit's state over SSH (a real loopback sshd whose systemctl is the
// demo's) and says it in words, with when and by whom; never "runs" unless it saw `active`. A
// viewer has no button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import {
  startWorld, watchProblems, devSignIn, waitForHydration, screenshotPath,
} from '../lib/harness.mjs';

let world, server, browser, sshd;

before(async () => {
  world = await startWorld({
    ssh: ['live'],
    config: '[sentinel]\nenvironment = "live"\nhost = "bots.habitat.sh"\naddress = "127.0.0.1"\n',
  });
  ({ server, browser, sshd } = world);
});

after(async () => {
  await world?.stop();
});

test('a responder checks whether the sentinel runs, and reads the answer in words', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 1400, height: 900 });
  await devSignIn(page, server.url, { name: 'ana', role: 'responder', next: '/services/sentinel' });
  await waitForHydration(page);
  const panel = page.getByTestId('sentinel-status');
  const button = panel.getByTestId('sentinel-check');
  assert.equal(await button.innerText(), 'Check whether the sentinel runs');

  // Never started on this host: inactive, said plainly, with what to do.
  await button.click();
  const state = panel.getByTestId('sentinel-state');
  await panel.locator('[data-testid="sentinel-state"][data-state="inactive"]').waitFor();
  const inactive = await state.innerText();
  assert.match(inactive, /^inactive: the sentinel does not run \(checked \d\d:\d\d:\d\d UTC by ana\)/);
  assert.doesNotMatch(inactive, /the sentinel runs/);

  // Started: active, and only now "runs".
  writeFileSync(sshd.sentinelState, `${Math.floor(Date.now() / 1000)}\n`);
  await button.click();
  await panel.locator('[data-testid="sentinel-state"][data-state="active"]').waitFor();
  assert.match(await state.innerText(), /^active: the sentinel runs \(checked \d\d:\d\d:\d\d UTC by ana\)$/);
  mkdirSync('/tmp/phone-shots', { recursive: true });
  await page.screenshot({ path: screenshotPath('sentinel-active'), fullPage: true });
  await page.screenshot({ path: '/tmp/phone-shots/sentinel-1400.png', fullPage: true });
  await page.setViewportSize({ width: 375, height: 740 });
  await page.screenshot({ path: '/tmp/phone-shots/sentinel-375.png', fullPage: true });

  // Dies at start: failed, never "runs", with what to do.
  await page.setViewportSize({ width: 1400, height: 900 });
  writeFileSync(`${sshd.sentinelState}.broken`, '');
  await button.click();
  await panel.locator('[data-testid="sentinel-state"][data-state="failed"]').waitFor();
  const failed = await state.innerText();
  assert.match(failed, /^failed: the sentinel stopped with an error and does not run \(checked \d\d:\d\d:\d\d UTC by ana\)/);
  assert.match(failed, /journalctl -u sentinel/);
  await page.screenshot({ path: '/tmp/phone-shots/sentinel-failed-1400.png', fullPage: true });
  assert.deepEqual(await problems.list(), []);
  await page.close();
});

test('a viewer sees no check button', async () => {
  const page = await browser.context.newPage();
  await devSignIn(page, server.url, { name: 'vic', role: 'viewer', next: '/services/sentinel' });
  await waitForHydration(page);
  await page.getByTestId('sentinel-check-denied').waitFor();
  assert.equal(await page.getByTestId('sentinel-check').count(), 0);
  await page.close();
});
