// The app shell: server-rendered, hydrated, navigable, themable, and readable on a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, watchProblems, screenshotPath, waitForHydration, devSignIn, devSessionCookie } from '../lib/harness.mjs';

let server;
let browser;
let cookie;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  cookie = await devSessionCookie(server.url);
  const page = await browser.context.newPage();
  await devSignIn(page, server.url, { name: 'Dana Viewer', role: 'viewer' });
  await page.close();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the shell renders on the server, before any JavaScript runs', async () => {
  const html = await (await fetch(`${server.url}/`, { headers: { cookie } })).text();
  for (const section of ['Environments', 'Services', 'Actions', 'Audit', 'Console', 'On-call', 'Onboarding']) {
    assert.match(html, new RegExp(`>${section}(<!>)?</a>`), `nav link ${section} in the SSR HTML`);
  }
  assert.match(html, /<span[^>]*data-env="live"[^>]*class="env-badge env-prod"[^>]*>⚠ (<!>)?LIVE/, 'live badge is server-rendered');
});

test('hydrates, and the theme toggle changes the page without a reload', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.goto(`${server.url}/`);
  await waitForHydration(page);
  await page.evaluate(() => { window.__sameDocument = 'yes'; });

  const toggle = page.getByTestId('theme-toggle');
  assert.equal(await toggle.textContent(), '◐ System');
  const before = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);

  await toggle.click(); // system -> light
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
  await toggle.click(); // light -> dark
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  assert.equal(await toggle.textContent(), '☾ Dark');
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(dark, before, 'the dark theme changes the background (Chromium headless defaults to light)');
  assert.equal(await page.evaluate(() => window.__sameDocument), 'yes', 'no reload happened');
  assert.equal(await page.evaluate(() => localStorage.getItem('onwatch-theme')), 'dark', 'choice is saved');
  await page.screenshot({ path: screenshotPath('shell-dark'), fullPage: true });

  // The saved theme is applied on the next visit before hydration.
  await page.reload();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await waitForHydration(page);
  await page.getByTestId('theme-toggle').click(); // dark -> system
  await page.waitForFunction(() => document.documentElement.dataset.theme === undefined);
  assert.deepEqual(problems, []);
  await page.close();
});

test('navigation works client-side and every section renders', async () => {
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await page.goto(`${server.url}/`);
  await waitForHydration(page);
  await page.evaluate(() => { window.__sameDocument = 'yes'; });
  for (const [label, heading] of [
    ['Environments', 'Environments'], ['Services', 'Services'], ['Actions', 'Actions'],
    ['Audit', 'Audit'], ['Console', 'Query console'], ['On-call', 'On-call'], ['Onboarding', 'Onboarding'],
  ]) {
    await page.locator('nav.mainnav').getByRole('link', { name: label, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    assert.equal(await page.evaluate(() => window.__sameDocument), 'yes', `${label}: client-side navigation`);
    // The bar marks the section the page is in, and only that one.
    await page.waitForFunction(
      (want) => [...document.querySelectorAll('nav.mainnav a[aria-current="page"]')].map((a) => a.textContent).join() === want,
      label,
    );
  }
  await page.getByRole('link', { name: 'Services', exact: true }).first().click();
  await page.getByRole('link', { name: 'sessionsrv' }).click();
  await page.getByText('"My Origins" shows up empty').waitFor();
  await page.screenshot({ path: screenshotPath('service-sessionsrv'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('an unknown address is a 404 page with a way back', async () => {
  const res = await fetch(`${server.url}/nope`, { headers: { cookie } });
  assert.equal(res.status, 404);
  assert.match(await res.text(), /Nothing here/);
});

test('fits a phone screen', async () => {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.url}/environments`);
  await waitForHydration(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling of the page (overflow ${overflow}px)`);
  await page.screenshot({ path: screenshotPath('environments-phone'), fullPage: true });
  await page.close();
});
