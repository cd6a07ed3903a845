// The browser's code comes in parts (app/src/lazy.rs): the dashboard's first load carries the
// shell and the dashboard; every other page fetches its own chunk the first time it is shown.
// These journeys start from an empty browser cache, so each chunk really travels: by a full load
// (the server's page preloads its chunk) and by following a link (the router fetches it). A chunk
// that cannot be had is blocked on purpose: the page must say so and offer a retry, never panic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, launchBrowser, watchProblems, devSignIn, devSessionCookie, waitForHydration, screenshotPath,
} from '../lib/harness.mjs';

let world, server, action;

before(async () => {
  world = await startWorld();
  ({ server } = world);
  action = await actionPath();
});

after(async () => {
  await world?.stop();
});

// Every page, with the chunk (split_<name>.wasm) its first visit must fetch; null: in the main
// module. `/actions/:id` is filled in once an action exists.
const PAGES = [
  ['/', null],
  ['/environments', 'environments'],
  ['/environments/live', 'environment'],
  ['/environments/acceptance/hosts/builder-api-acceptance-1', 'host'],
  ['/releases', 'releases'],
  ['/broken', 'broken'],
  ['/services', 'services'],
  ['/services/api', 'service'],
  ['/services/sentinel', 'service'],
  ['/actions', 'actions'],
  ['/audit', 'audit'],
  ['/console', 'console'],
  ['/incidents', 'incidents'],
  ['/oncall', 'oncall'],
  ['/onboarding', 'onboarding'],
  ['/settings', 'settings'],
  ['/admin/sessions', 'admin'],
];

/** Starts a restart over HTTP and resolves to its page's path, so `/actions/:id` is visited too. */
async function actionPath() {
  const cookie = await devSessionCookie(server.url, { name: 'split-starter', role: 'responder' });
  const res = await fetch(`${server.url}/api/attempt/action`, {
    method: 'POST',
    headers: { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      kind: 'restart_service', environment: 'acceptance', host: 'builder-api-acceptance-1',
      service_group: 'builder-api.acceptance', reason: 'a page to visit', confirmation: 'builder-api',
      idempotency_key: `split-${Date.now()}-${Math.random()}`,
    }).toString(),
  });
  assert.equal(res.status, 200);
  const answer = await res.json();
  if (!answer.Started) throw new Error(`the action did not start: ${JSON.stringify(answer)}`);
  return `/actions/${answer.Started.id}`;
}

/** Every /pkg/ request the page makes, with its status (or failure), in order. */
function watchPkg(page) {
  const seen = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/pkg/')) seen.push({ file: u.pathname.slice(5), status: r.status() });
  });
  page.on('requestfailed', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/pkg/')) seen.push({ file: u.pathname.slice(5), status: r.failure()?.errorText });
  });
  return seen;
}

const chunksIn = (seen) => seen.map((s) => s.file).filter((f) => /^split_.*\.wasm$/.test(f));

/** Follows a link to `path` the way a person's click does: the router's client-side navigation. */
async function followLink(page, path) {
  await page.evaluate((href) => {
    const a = document.createElement('a');
    a.href = href;
    a.textContent = 'go';
    document.querySelector('main')?.append(a);
    a.click();
    a.remove();
  }, path);
}

/** Makes the server answer 503 for one chunk, as a dropped connection would; returns its URL and
 * the answers that provokes, for `problems.list({ expected })`. */
async function blockChunk(page, chunk) {
  const url = `${server.url}/pkg/split_${chunk}.wasm`;
  await page.route(url, (route) => route.fulfill({ status: 503, body: 'down for a moment' }));
  return { url, expected: [{ url, status: 503 }] };
}

/** Each line left is the chunk loader's report of the blocked fetch, and nothing else. */
function onlyLoaderReports(lines) {
  for (const line of lines) assert.match(line, /^console error: .*HTTP status code is not ok.*__wasm_split\./, line);
}

test('every page, loaded in full from a cold cache, fetches only its own chunk and every request succeeds', async () => {
  const pages = [...PAGES, [action, 'actions']];
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await devSignIn(page, server.url, { name: 'split-admin', role: 'admin' });
    await waitForHydration(page);
    const fetched = new Set();
    for (const [path, chunk] of pages) {
      const seen = watchPkg(page);
      const res = await page.goto(server.url + path);
      assert.equal(res.status(), 200, path);
      await page.locator('main h1').first().waitFor();
      await waitForHydration(page);
      assert.equal(await page.getByTestId('chunk-failed-banner').count(), 0, `${path}: no chunk failed`);
      const failed = seen.filter((s) => typeof s.status !== 'number' || s.status >= 400);
      assert.deepEqual(failed, [], `${path}: every file of the page arrived`);
      const chunks = chunksIn(seen);
      if (chunk === null) {
        assert.deepEqual(chunks, [], `${path}: the dashboard needs no chunk`);
      } else {
        // Fetched on the first visit (preloaded by the page's head); from the cache afterwards,
        // where Chromium may answer it without a request at all.
        if (!fetched.has(chunk)) assert.ok(chunks.includes(`split_${chunk}.wasm`), `${path}: fetches split_${chunk}.wasm: ${chunks}`);
        fetched.add(chunk);
        assert.ok(chunks.every((f) => f === `split_${chunk}.wasm`), `${path}: only its own chunk: ${chunks}`);
      }
      assert.deepEqual(await problems.list(), [], path);
    }
  } finally {
    await browser.close();
  }
});

test('following links from the dashboard, a cold browser fetches each page\'s chunk once and shows the page', async () => {
  const pages = [...PAGES.slice(1), [action, 'actions']];
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await devSignIn(page, server.url, { name: 'split-walker', role: 'admin' });
    await waitForHydration(page);
    const fetched = new Set();
    const seen = watchPkg(page);
    for (const [path, chunk] of pages) {
      const before = page.url();
      const heading = await page.locator('main h1').first().innerText();
      const chunkArrived = fetched.has(chunk) ? null : page.waitForResponse(
        (r) => new URL(r.url()).pathname === `/pkg/split_${chunk}.wasm`, { timeout: 20_000 });
      await followLink(page, path);
      await page.waitForURL((u) => u.pathname === path);
      assert.notEqual(page.url(), before);
      if (chunkArrived) {
        assert.equal((await chunkArrived).status(), 200, `${path}: split_${chunk}.wasm`);
        fetched.add(chunk);
      }
      // The page itself is drawn by its chunk's code: its own heading replaces the last page's.
      await page.waitForFunction((h) => {
        const h1 = document.querySelector('main h1');
        return h1 && h1.innerText !== h;
      }, heading);
      assert.equal(await page.getByTestId('chunk-failed').count(), 0, `${path}: its chunk loaded`);
      assert.deepEqual(await problems.list(), [], path);
    }
    const failed = seen.filter((s) => typeof s.status !== 'number' || s.status >= 400);
    assert.deepEqual(failed, [], 'every file arrived');
    // Each chunk once: the loader keeps what it loaded.
    const chunks = chunksIn(seen);
    assert.deepEqual(chunks, [...new Set(chunks)], 'no chunk fetched twice');
  } finally {
    await browser.close();
  }
});

test('a page whose chunk cannot be fetched says so and offers a retry that works, after a link', async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await devSignIn(page, server.url, { name: 'split-unlucky', role: 'responder' });
    await waitForHydration(page);
    const { url: blocked, expected } = await blockChunk(page, 'console');
    await page.locator('nav.mainnav a[href="/console"]').click();
    const alert = page.getByTestId('chunk-failed');
    await alert.waitFor();
    assert.equal(await alert.getAttribute('role'), 'alert');
    assert.match(await alert.locator('h1').innerText(), /This page could not be loaded/);
    assert.match(await alert.innerText(), /Nothing was changed/);
    await page.screenshot({ path: screenshotPath('chunk-failed') });
    // The rest of the portal still works: the header's links still navigate.
    await page.locator('nav.mainnav a[href="/services"]').click();
    await page.waitForURL((u) => u.pathname === '/services');
    await page.locator('main h1').filter({ hasText: 'Services' }).waitFor();
    await page.goBack();
    await alert.waitFor();
    // The loader reports the failed fetch on the console, once per try: what the block provoked.
    const left = await problems.list({ expected });
    assert.ok(left.length >= 1, 'the loader reports what failed');
    onlyLoaderReports(left);

    // The connection is back: the retry loads the page for real, with nothing else going wrong.
    await page.unroute(blocked);
    const reloaded = page.waitForResponse((r) => new URL(r.url()).pathname === '/console' && r.request().isNavigationRequest());
    await page.getByTestId('chunk-retry').click();
    assert.equal((await reloaded).status(), 200);
    await waitForHydration(page);
    await page.locator('main h1').filter({ hasText: 'Query console' }).waitFor();
    assert.equal(await page.getByTestId('chunk-failed').count(), 0);
    assert.deepEqual(await problems.list({ expected }), left);
  } finally {
    await browser.close();
  }
});

test('a page whose chunk failed once loads by a link when the connection is back, without a reload', async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await devSignIn(page, server.url, { name: 'split-patient', role: 'responder' });
    await waitForHydration(page);
    const { url: blocked, expected } = await blockChunk(page, 'audit');
    await page.locator('nav.mainnav a[href="/audit"]').click();
    await page.getByTestId('chunk-failed').waitFor();
    const left = await problems.list({ expected });
    onlyLoaderReports(left);
    await page.unroute(blocked);
    let fullLoads = 0;
    page.on('request', (r) => { if (r.isNavigationRequest()) fullLoads += 1; });
    await page.locator('nav.mainnav a[href="/services"]').click();
    await page.locator('main h1').filter({ hasText: 'Services' }).waitFor();
    // A failed load is not remembered: this visit fetches the chunk again, and it arrives.
    const again = page.waitForResponse((r) => r.url() === blocked);
    await page.locator('nav.mainnav a[href="/audit"]').click();
    assert.equal((await again).status(), 200);
    await page.locator('main h1').filter({ hasText: 'Audit' }).waitFor();
    assert.equal(await page.getByTestId('chunk-failed').count(), 0);
    assert.equal(fullLoads, 0, 'no page was reloaded');
    assert.deepEqual(await problems.list({ expected }), left, 'nothing else went wrong');
  } finally {
    await browser.close();
  }
});

test('a server-drawn page whose chunk cannot be fetched stays readable, says so, and the header keeps working', async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await devSignIn(page, server.url, { name: 'split-hotel', role: 'responder' });
    await waitForHydration(page);
    const { url: blocked, expected } = await blockChunk(page, 'oncall');
    const res = await page.goto(`${server.url}/oncall`);
    assert.equal(res.status(), 200);
    const banner = page.getByTestId('chunk-failed-banner');
    await banner.waitFor();
    assert.equal(await banner.getAttribute('role'), 'alert');
    assert.match(await banner.innerText(), /did not load/);
    await page.screenshot({ path: screenshotPath('chunk-failed-banner') });
    // What the server drew is still there to read, not replaced by an error.
    assert.equal(await page.locator('main h1').first().innerText(), 'On-call');
    assert.equal(await page.getByTestId('chunk-failed').count(), 0, 'the page is not replaced');
    const left = await problems.list({ expected });
    assert.ok(left.length >= 1, 'the loader reports what failed');
    onlyLoaderReports(left);

    // The header's links still go where they say (a full load: the router is stuck on this page).
    const loaded = page.waitForResponse((r) => new URL(r.url()).pathname === '/services' && r.request().isNavigationRequest());
    await page.locator('nav.mainnav a[href="/services"]').click();
    assert.equal((await loaded).status(), 200);
    await waitForHydration(page);
    await page.locator('main h1').filter({ hasText: 'Services' }).waitFor();
    assert.equal(await banner.count(), 0, 'the banner left with its page');

    // The connection is back: the page loads and works.
    await page.unroute(blocked);
    await page.goto(`${server.url}/oncall`);
    await waitForHydration(page);
    await page.locator('main h1').filter({ hasText: 'On-call' }).waitFor();
    assert.equal(await banner.count(), 0);
    assert.deepEqual(await problems.list({ expected }), left, 'nothing else went wrong');
  } finally {
    await browser.close();
  }
});

test('the banner of a server-drawn page without its chunk reloads the page, which then works', async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await devSignIn(page, server.url, { name: 'split-retry', role: 'responder' });
    await waitForHydration(page);
    const { url: blocked, expected } = await blockChunk(page, 'settings');
    await page.goto(`${server.url}/settings`);
    const banner = page.getByTestId('chunk-failed-banner');
    await banner.waitFor();
    const left = await problems.list({ expected });
    onlyLoaderReports(left);
    await page.unroute(blocked);
    const reloaded = page.waitForResponse((r) => new URL(r.url()).pathname === '/settings' && r.request().isNavigationRequest());
    await banner.getByTestId('chunk-retry').click();
    assert.equal((await reloaded).status(), 200);
    await waitForHydration(page);
    assert.equal(await banner.count(), 0);
    assert.deepEqual(await problems.list({ expected }), left, 'nothing else went wrong');
  } finally {
    await browser.close();
  }
});
