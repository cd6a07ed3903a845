// The journeys' problem watcher (lib/harness.mjs) itself: a page that moves on leaves no problem
// behind, and every way the live-update stream can break is one. Without this, a watcher that
// saw nothing would let every journey pass. Each test has its own server, browser and session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, watchProblems, waitForHydration, devSignIn, STREAM_PATH } from '../lib/harness.mjs';

/** A fresh server and browser, signed in as a viewer, on a page watched from the start. */
async function signedInPage() {
  const server = await startServer();
  const browser = await launchBrowser();
  const page = await browser.context.newPage();
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'Watcher Check', role: 'viewer' });
  await waitForHydration(page);
  return {
    server, browser, page, problems,
    async close() { await browser.close(); await server.stop(); },
  };
}

test('navigating away, reloading and closing leave no problem behind', async () => {
  const t = await signedInPage();
  try {
    const { page, problems, server } = t;
    await problems.streamOpen();
    // A full navigation: Chromium aborts the old document's stream (net::ERR_ABORTED).
    await page.goto(`${server.url}/services`);
    await waitForHydration(page);
    await problems.streamOpen();
    await page.reload();
    await waitForHydration(page);
    await problems.streamOpen();
    // A client-side navigation keeps the document and its stream.
    await page.locator('nav.mainnav').getByRole('link', { name: 'Environments', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Environments' }).waitFor();
    assert.deepEqual(await problems.list(), []);
    assert.ok(problems.abortedStreams >= 2, `the navigation and the reload each left a stream behind (${problems.abortedStreams})`);
    await page.close();
    assert.deepEqual(await problems.list(), [], 'closing the page is not a failure of its stream');
  } finally {
    await t.close();
  }
});

test('a stream the server refuses is a problem', async () => {
  const t = await signedInPage();
  try {
    const { page, problems, server } = t;
    await page.route(`**${STREAM_PATH}`, (route) => route.fulfill({ status: 503, contentType: 'text/plain', body: 'busy' }));
    await page.reload();
    // The browser gives up on a refused stream, and the page says so.
    await page.getByTestId('signed-out-banner').waitFor({ timeout: 15_000 });
    const found = await problems.list();
    const url = `${server.url}${STREAM_PATH}`;
    assert.ok(found.includes(`live-update stream answered 503 (text/plain): ${url}`), found.join('\n'));
    assert.ok(found.includes(`live-update stream error (closed: the browser gave up on it): ${url}`), found.join('\n'));
  } finally {
    await t.close();
  }
});

test('a stream answered with a page instead of events is a problem', async () => {
  const t = await signedInPage();
  try {
    const { page, problems, server } = t;
    // What a sign-in redirect would look like to the EventSource: a 200 that is not a stream.
    await page.route(`**${STREAM_PATH}`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<p>Sign in</p>' }));
    await page.reload();
    await page.getByTestId('signed-out-banner').waitFor({ timeout: 15_000 });
    const found = await problems.list();
    const url = `${server.url}${STREAM_PATH}`;
    assert.ok(found.includes(`live-update stream answered 200 (text/html): ${url}`), found.join('\n'));
    assert.ok(found.includes(`live-update stream error (closed: the browser gave up on it): ${url}`), found.join('\n'));
  } finally {
    await t.close();
  }
});

test('a stream aborted while its page is still shown is a problem', async () => {
  const t = await signedInPage();
  try {
    const { page, problems, server } = t;
    await page.route(`**${STREAM_PATH}`, (route) => route.abort('aborted'));
    await page.reload();
    // Chromium gives up on an aborted stream: the page says live updates stopped.
    await page.getByTestId('signed-out-banner').or(page.getByTestId('stale-banner')).waitFor({ timeout: 15_000 });
    const found = await problems.list();
    const url = `${server.url}${STREAM_PATH}`;
    assert.ok(found.includes(`live-update stream aborted while its page was still shown: ${url}`), found.join('\n'));
  } finally {
    await t.close();
  }
});

test('a stream whose server goes away is a problem', async () => {
  const t = await signedInPage();
  try {
    const { page, problems, server } = t;
    await problems.streamOpen();
    assert.deepEqual(await problems.list(), []);
    await server.stop();
    await page.getByTestId('stale-banner').waitFor({ timeout: 15_000 });
    const found = await problems.list();
    assert.ok(found.includes(`live-update stream error (the connection broke; reconnecting): ${server.url}${STREAM_PATH}`), found.join('\n'));
  } finally {
    await t.close();
  }
});
