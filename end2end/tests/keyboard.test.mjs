// The keyboard alone: a skip link is the first Tab stop and leads to the page's content; Ctrl+K
// (this is Linux) opens the palette, whose button says so; the arrow keys move the selection and
// Enter follows the selected entry, not the first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startSim, launchBrowser, watchProblems, devSignIn, waitForHydration } from '../lib/harness.mjs';

let sim, server, browser;

before(async () => {
  sim = await startSim();
  server = await startServer({
    env: { ONWATCH_INVENTORY__SOURCE: 'static', ONWATCH_INVENTORY__FLEET_FILE: sim.fleetFile },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await sim?.stop();
});

test('a skip link leads past the header to the content', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'kbd-viewer', role: 'viewer', next: '/services' });
  await waitForHydration(page);
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => ({ text: document.activeElement.textContent, href: document.activeElement.getAttribute('href') }));
  assert.deepEqual(first, { text: 'Skip to content', href: '#main' });
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'main');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the palette: the shortcut of this platform, arrows move, Enter follows the selection', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'kbd-viewer-2', role: 'viewer', next: '/' });
  await waitForHydration(page);
  const button = page.getByTestId('palette-open');
  assert.equal((await button.textContent()).trim(), 'Ctrl K');
  assert.equal(await button.getAttribute('aria-keyshortcuts'), 'Control+K');

  await page.keyboard.press('Control+k');
  const palette = page.getByTestId('palette');
  await palette.waitFor();
  await palette.getByRole('searchbox').fill('live');
  const options = palette.getByRole('option');
  await options.first().waitFor();
  assert.ok((await options.count()) >= 3, 'several matches for "live"');
  const selected = palette.locator('[role=option][aria-selected=true]');
  const label = async () => (await selected.textContent()).trim();
  const first = await label();
  await page.keyboard.press('ArrowDown');
  const second = await label();
  assert.notEqual(second, first, 'ArrowDown moves the selection');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowUp');
  assert.equal(await label(), second, 'ArrowUp moves it back');
  const href = await selected.locator('a').getAttribute('href');
  assert.ok(href && href !== '/', href);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === href);
  assert.deepEqual(problems, []);
  await page.close();
});
