// A service's log, as the on-call engineer opens it from the service page: the Supervisor's log
// of that host over SSH (a real sshd, whose journalctl follows the simulator), filtered to the
// service, filtered by text; a fault on the host appears as a line without a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, watchProblems, devSignIn, waitForHydration, screenshotPath,
} from '../lib/harness.mjs';

let world, sim, server, browser, sshd;

before(async () => {
  world = await startWorld({ ssh: ['acceptance'] });
  ({ sim, server, browser, sshd } = world);
});

after(async () => {
  await world?.stop();
});

test("a service's log, filtered, shows a fault as it happens", async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 1300, height: 1000 });
  await devSignIn(page, server.url, { name: 'log-viewer', role: 'viewer', next: '/services/api' });
  await page.goto(`${server.url}/services/api`);
  await waitForHydration(page);
  await page.locator('tr[data-host="builder-api-acceptance-1"] [data-testid="service-log"]').click();
  await page.waitForURL(/\/environments\/acceptance\/hosts\/builder-api-acceptance-1\?service=builder-api/);
  await waitForHydration(page);
  await page.getByTestId('log-open').click();
  const lines = page.locator('[data-testid="log-lines"] .log-line');
  await lines.first().waitFor();
  // Only builder-api's lines, each linking to its service.
  const services = await page.locator('[data-testid="log-lines"] .log-service').allInnerTexts();
  assert.ok(services.length > 0 && services.every((s) => s === 'builder-api'), JSON.stringify(services));
  await page.getByTestId('log-filter').fill('health check');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="log-lines"] .log-line')]
    .every((l) => l.textContent.includes('health check')));
  // A fault: the health check turns critical, and the line comes in, red, without a reload.
  await sim.fault({ host: 'builder-api-acceptance-1', fault: 'health', service: 'builder-api', status: 'Critical' });
  const critical = page.locator('[data-testid="log-lines"] .log-line.level-error', { hasText: 'ERROR health check Critical' });
  await critical.waitFor({ timeout: 15_000 });
  assert.match(await page.getByTestId('log-status').innerText(), /Following/);
  await page.getByTestId('log-panel').screenshot({ path: screenshotPath('host-log') });
  assert.deepEqual(await problems.list(), []);
});
