// The app shell: server-rendered, hydrated, navigable, themable, and readable on a phone.
// One server for the file (it holds nothing a journey changes); each journey signs in itself, in
// its own browser (its own cookies and saved theme), so any of them runs alone or in any order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, watchProblems, screenshotPath, waitForHydration, devSignIn } from '../lib/harness.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

/** A fresh browser signed in as a viewer, on `next`, its problems watched from the first page. */
async function signedIn({ next = '/', javaScriptEnabled = true, viewport = null } = {}) {
  const browser = await launchBrowser({ javaScriptEnabled });
  const page = await browser.context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const problems = javaScriptEnabled ? watchProblems(page) : null;
  await devSignIn(page, server.url, { name: 'Dana Viewer', role: 'viewer', next });
  return { browser, page, problems };
}

const SECTIONS = ['Environments', 'Services', 'Actions', 'Audit', 'Console', 'Incidents', 'On-call', 'Onboarding'];

test('the shell renders on the server, before any JavaScript runs', async () => {
  // Scripts off: what the page shows is what the server rendered (the development sign-in is a
  // plain form, so it works without them).
  const { browser, page } = await signedIn({ javaScriptEnabled: false });
  try {
    assert.equal(new URL(page.url()).pathname, '/');
    const nav = page.locator('header.topbar nav.mainnav');
    assert.deepEqual(await nav.getByRole('link').allTextContents(), SECTIONS, 'the section links, in order');
    // The header names the environment of the page, or none: the dashboard spans them all.
    assert.equal(await page.locator('header.topbar [data-testid="page-env"] .env-badge').count(), 0);
    await page.goto(`${server.url}/environments/live`);
    const live = page.locator('header.topbar [data-testid="page-env"] .env-badge[data-env="live"]');
    assert.equal(await live.textContent(), '⚠ LIVE', 'the live badge is server-rendered');
    assert.match(await live.getAttribute('class'), /\benv-prod\b/);
    await page.goto(`${server.url}/environments/acceptance/hosts/builder-api-acceptance-1`);
    const badges = page.locator('header.topbar [data-testid="page-env"] .env-badge');
    assert.deepEqual(await badges.allTextContents(), ['ACCEPTANCE'], 'an acceptance page never says LIVE');
    assert.equal(await page.getByTestId('viewer').locator('.viewer-name').textContent(), 'Dana Viewer');
    assert.equal(await page.locator('html').getAttribute('data-hydrated'), null, 'nothing hydrated it');
  } finally {
    await browser.close();
  }
});

test('hydrates, and the theme toggle changes the page without a reload', async () => {
  const { browser, page, problems } = await signedIn();
  try {
    await waitForHydration(page);
    await problems.streamOpen();
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
    await problems.streamOpen();
    assert.deepEqual(await problems.list(), []);
  } finally {
    await browser.close();
  }
});

test('navigation works client-side and every section renders', async () => {
  const { browser, page, problems } = await signedIn();
  try {
    await waitForHydration(page);
    await problems.streamOpen();
    await page.evaluate(() => { window.__sameDocument = 'yes'; });
    const headings = { Console: 'Query console' };
    for (const label of SECTIONS) {
      await page.locator('nav.mainnav').getByRole('link', { name: label, exact: true }).click();
      await page.getByRole('heading', { level: 1, name: headings[label] ?? label }).waitFor();
      assert.equal(await page.evaluate(() => window.__sameDocument), 'yes', `${label}: client-side navigation`);
      // The bar marks the section the page is in, and only that one.
      await page.waitForFunction(
        (want) => [...document.querySelectorAll('nav.mainnav a[aria-current="page"]')].map((a) => a.textContent).join() === want,
        label,
      );
    }
    await page.locator('nav.mainnav').getByRole('link', { name: 'Services', exact: true }).click();
    await page.locator('article.service-card[data-service="sessionsrv"]').getByRole('link', { name: 'sessionsrv' }).click();
    await page.getByRole('heading', { level: 1, name: /^sessionsrv/ }).waitFor();
    // The symptom is a row of the service's symptoms table.
    const symptom = page.locator('table.symptoms tbody tr').filter({ has: page.getByRole('cell', { name: '"My Origins" shows up empty', exact: false }) });
    await symptom.waitFor();
    assert.match(await symptom.locator('td').first().textContent(), /^"My Origins" shows up empty/);
    assert.equal(await page.evaluate(() => window.__sameDocument), 'yes', 'the service page, client-side too');
    await page.screenshot({ path: screenshotPath('service-sessionsrv'), fullPage: true });
    assert.deepEqual(await problems.list(), []);
  } finally {
    await browser.close();
  }
});

test('an unknown address is a 404 page with a way back', async () => {
  const { browser, page, problems } = await signedIn();
  try {
    const res = await page.goto(`${server.url}/nope`);
    assert.equal(res.status(), 404);
    await waitForHydration(page);
    const main = page.locator('section.page');
    assert.equal(await main.getByRole('heading', { level: 1 }).textContent(), 'Nothing here');
    assert.equal(await main.getByRole('link', { name: 'Back to the overview' }).getAttribute('href'), '/');
    // The 404 itself is the one problem this journey asked for.
    assert.deepEqual(await problems.list({ expected: [{ url: `${server.url}/nope`, status: 404 }] }), []);
  } finally {
    await browser.close();
  }
});

test('fits a phone screen', async () => {
  const { browser, page, problems } = await signedIn({ next: '/environments', viewport: { width: 390, height: 844 } });
  try {
    await waitForHydration(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling of the page (overflow ${overflow}px)`);
    await page.screenshot({ path: screenshotPath('environments-phone'), fullPage: true });
    assert.deepEqual(await problems.list(), []);
  } finally {
    await browser.close();
  }
});
