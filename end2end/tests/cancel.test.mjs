// Cancelling a running action from its page: a restart on a host whose Supervisor stops
// answering its HTTP gateway (the restart waits for a state it never sees) is stopped by the
// responder with "Cancel this action…" and its confirmation; the wait is cut off, the page says
// `cancelled` and by whom, and the audit log has the cancel's attempt and outcome beside the
// action's own rows. A viewer gets no button.
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

const host = 'builder-api-acceptance-1';

test('a hung restart is cancelled from its page, and the log says who', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'canceller', role: 'responder', next: '/actions' });
  await waitForHydration(page);
  // The host's HTTP gateway takes connections and never answers: the restart waits on.
  await sim.fault({ host, fault: 'hang' });
  const res = await page.request.post(`${server.url}/api/attempt/action`, {
    headers: { origin: server.url },
    form: {
      kind: 'restart_service',
      environment: 'acceptance',
      host,
      service_group: 'builder-api.acceptance',
      reason: 'cancel journey',
      confirmation: 'builder-api',
      tried_in_acceptance: '',
      idempotency_key: `cancel-${Date.now()}`,
    },
  });
  assert.equal(res.status(), 200, await res.text());
  const id = (await res.json()).Started.id;
  await page.goto(`${server.url}/actions/${id}`);
  await waitForHydration(page);
  assert.equal(await page.getByTestId('action-state').textContent(), 'running');

  // The button, then its confirmation; "Keep it running" backs out.
  await page.getByTestId('cancel-open').click();
  await page.getByTestId('cancel-no').click();
  await page.getByTestId('cancel-open').click();
  await page.getByTestId('cancel-confirm').waitFor();
  await page.screenshot({ path: screenshotPath('action-cancel-confirm-desktop'), fullPage: false });
  // On a phone the confirmation and both its buttons fit the screen's width.
  await page.setViewportSize({ width: 375, height: 800 });
  for (const id of ['cancel-confirm', 'cancel-yes', 'cancel-no']) {
    const box = await page.getByTestId(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `${id} inside a 375 px screen: ${JSON.stringify(box)}`);
  }
  await page.screenshot({ path: screenshotPath('action-cancel-confirm-phone'), fullPage: true });
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.getByTestId('cancel-yes').click();
  assert.match(await page.getByTestId('cancel-result').textContent(), /^Cancel asked/);
  await page.waitForFunction(() => document.querySelector('[data-testid=action-state]')?.textContent === 'cancelled', null, { timeout: 15_000 });
  assert.match(await page.getByTestId('action-summary').textContent(), /^cancelled by canceller/);
  assert.equal(await page.getByTestId('cancel-open').count(), 0, 'no button once it ended');
  await sim.fault({ host, fault: 'up' });

  // A second cancel, as a stale page would send it: refused, the state named.
  const again = await page.request.post(`${server.url}/api/act/action-cancel`, {
    headers: { origin: server.url },
    form: { id },
  });
  assert.equal(again.status(), 409);
  assert.match(await again.text(), /no longer running: it ended cancelled/);

  await page.goto(`${server.url}/audit`);
  const rows = page.getByTestId('audit-rows').locator(`tr[data-action="${id}"]`);
  await rows.first().waitFor();
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => `${tr.dataset.kind}`));
  assert.deepEqual(kinds.sort(), [
    'action.cancel', 'action.cancel', 'action.cancel', 'action.cancel', 'action.intent', 'action.outcome',
  ]);
  assert.deepEqual(await problems.list(), []);
  await page.close();
});

test('a viewer sees no cancel button on a running action', async () => {
  await sim.fault({ host, fault: 'hang' });
  const responder = await browser.context.newPage();
  await devSignIn(responder, server.url, { name: 'starter', role: 'responder', next: '/actions' });
  const res = await responder.request.post(`${server.url}/api/attempt/action`, {
    headers: { origin: server.url },
    form: {
      kind: 'restart_service',
      environment: 'acceptance',
      host,
      service_group: 'builder-api.acceptance',
      reason: 'viewer journey',
      confirmation: 'builder-api',
      tried_in_acceptance: '',
      idempotency_key: `viewer-${Date.now()}`,
    },
  });
  assert.equal(res.status(), 200, await res.text());
  const id = (await res.json()).Started.id;
  await responder.close();
  // The same browser, signed in again as a viewer (one session per browser).
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'onlooker', role: 'viewer', next: `/actions/${id}` });
  await waitForHydration(page);
  assert.equal(await page.getByTestId('action-state').textContent(), 'running');
  assert.equal(await page.getByTestId('cancel-open').count(), 0);
  assert.deepEqual(await problems.list(), []);
  await page.close();
  await sim.fault({ host, fault: 'up' });
});
