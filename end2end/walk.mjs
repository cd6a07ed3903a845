// The runbook, walked through Onwatch at 1400 px and at 375 px, one screenshot per job and width
// (not a test: for looking, as issue #28 asks). Starts its own simulator, sshd and server.
//   CARGO_TARGET_DIR=... node walk.mjs [out-dir]
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startWorld, devSignIn, waitForHydration } from './lib/harness.mjs';

const out = process.argv[2] || '/tmp/walk';
mkdirSync(out, { recursive: true });
const start = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19);
const world = await startWorld({
  ssh: ['acceptance', 'live'],
  locks: true,
  config: `[oncall]\nmembers = ["walker", "bo", "cy"]\nstart = "${start}"\ntime_zone = "America/Los_Angeles"\nshift_hours = 72\n`,
});
const { server, sim, browser } = world;
const page = await browser.context.newPage();
const shots = [];
async function shoot(name, { full = false } = {}) {
  for (const [w, h] of [[1400, 900], [375, 740]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.waitForTimeout(150); // layout settles after a resize (looking only, not a test)
    const file = path.join(out, `${name}-${w}.png`);
    await page.screenshot({ path: file, fullPage: full });
    shots.push(file);
  }
  await page.setViewportSize({ width: 1400, height: 900 });
}
async function visit(p) {
  await page.goto(`${server.url}${p}`);
  await waitForHydration(page);
}

try {
  await sim.fault({ host: 'builder-api-acceptance-1', fault: 'wedged', service: 'builder-api' });
  await devSignIn(page, server.url, { name: 'walker', role: 'admin', next: '/' });
  await waitForHydration(page);
  // Job: what is broken (the dashboard, an environment, a host, a service's synopsis).
  await page.locator('[aria-label="environment acceptance"] [data-state="critical"]').first().waitFor();
  await shoot('01-dashboard');
  await visit('/environments/acceptance');
  await shoot('02-environment', { full: true });
  await visit('/environments/acceptance/hosts/builder-api-acceptance-1');
  await shoot('03-host', { full: true });
  await visit('/services/api');
  await shoot('04-service', { full: true });
  // Job: restart a service (the dialog, then its output).
  await page.locator('tr[data-host="builder-api-acceptance-1"] [data-testid="restart-open"]').click();
  const dialog = page.getByTestId('restart-dialog');
  await dialog.getByTestId('restart-preview').waitFor();
  await page.locator('#restart-reason').fill('builder-api wedged: health check critical');
  await page.locator('#restart-confirm').fill('builder-api');
  await shoot('05-restart-dialog');
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/actions/')), page.locator('#restart-confirm').press('Enter')]);
  await page.waitForFunction(() => document.querySelector('[data-testid=action-state]')?.textContent === 'succeeded', null, { timeout: 60_000 });
  await shoot('06-action-output', { full: true });
  // Job: restart a whole Supervisor (the dialog only) and the sentinel's page.
  await visit('/environments/live/hosts/builder-jobsrv-live-1');
  await shoot('07-live-host', { full: true });
  await visit('/services/sentinel');
  await shoot('08-sentinel', { full: true });
  // Job: read a host's logs.
  await visit('/environments/acceptance/hosts/builder-api-acceptance-1');
  const logs = page.getByRole('link', { name: /logs/i }).first();
  if (await logs.count()) {
    await logs.click();
    await waitForHydration(page);
    await page.waitForTimeout(1500);
    await shoot('09-logs');
  }
  // Job: the datastore's lock files; the shard console.
  await visit('/services/datastore');
  await shoot('10-datastore', { full: true });
  await visit('/console');
  await shoot('11-console', { full: true });
  // Job: on call, incidents, onboarding, the audit log, one's settings.
  await visit('/oncall');
  await shoot('12-oncall', { full: true });
  await visit('/incidents');
  await shoot('13-incidents', { full: true });
  await visit('/onboarding');
  await shoot('14-onboarding', { full: true });
  await visit('/actions');
  await shoot('15-actions', { full: true });
  await visit('/audit');
  await shoot('16-audit');
  await visit('/settings');
  await shoot('17-settings');
  console.log(shots.join('\n'));
} finally {
  await world.stop();
}
