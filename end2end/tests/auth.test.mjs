// Sign-in through a real OpenID Connect provider's login and consent pages, what each role sees,
// sign-out, a refused person, and an admin revoking a session that is open in another browser.
// The provider and Onwatch are shared by the file (they hold no state a journey relies on); each
// journey signs its people in itself, in browsers of its own, so any of them runs alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, watchProblems, screenshotPath, waitForHydration, fact, root } from '../lib/harness.mjs';

let provider;
let server;
let dir;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function startProvider(port, redirect) {
  const child = spawn('node', [path.join(root, 'end2end/lib/oidc-provider.mjs'), String(port), redirect], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start:\n${output}`)), 20_000);
    const onData = (c) => { output += c.toString(); if (output.includes('listening on')) { clearTimeout(timer); resolve(); } };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`oidc-provider exited ${code}:\n${output}`)); });
  });
  return {
    issuer: `http://127.0.0.1:${port}`,
    async stop() { if (child.exitCode === null) { const e = new Promise((r) => child.once('exit', r)); child.kill('SIGTERM'); await e; } },
  };
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'onwatch-e2e-auth-'));
  const secret = path.join(dir, 'oidc-secret');
  writeFileSync(secret, 'onwatch-secret\n');
  const [onwatchPort, providerPort] = [await freePort(), await freePort()];
  provider = await startProvider(providerPort, `http://127.0.0.1:${onwatchPort}/auth/oidc/callback`);
  server = await startServer({
    env: {
      ONWATCH_SERVER__LISTEN: `127.0.0.1:${onwatchPort}`,
      ONWATCH_AUTH__DEV_SIGNIN: 'false',
      ONWATCH_AUTH__OIDC__DISPLAY_NAME: 'Example SSO',
      ONWATCH_AUTH__OIDC__ISSUER_URL: provider.issuer,
      ONWATCH_AUTH__OIDC__CLIENT_ID: 'onwatch',
      ONWATCH_AUTH__OIDC__CLIENT_SECRET_FILE: secret,
      ONWATCH_AUTH__OIDC__ROLES__VIEWER: '["builder-team"]',
      ONWATCH_AUTH__OIDC__ROLES__RESPONDER: '["builder-oncall"]',
      ONWATCH_AUTH__OIDC__ROLES__ADMIN: '["builder-admins"]',
    },
  });
});

after(async () => {
  await server?.stop();
  await provider?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** From Onwatch's sign-in page through the provider's login and consent pages, back to Onwatch. */
async function signInWithSso(page, login) {
  await page.getByTestId('signin-oidc').click();
  await page.waitForURL((u) => u.href.startsWith(provider.issuer));
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.screenshot({ path: screenshotPath('signin-provider-login') });
  await page.locator('button[type=submit]').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.href.startsWith(server.url));
}

test('a responder signs in through the provider and lands where they were going', async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/environments/live`);
    await page.waitForURL(/\/signin\?next=%2Fenvironments%2Flive$/);
    assert.equal(await page.getByTestId('dev-signin').count(), 0, 'no development sign-in here');
    assert.equal(await page.getByTestId('dev-banner').count(), 0);
    await page.screenshot({ path: screenshotPath('signin') });

    await signInWithSso(page, 'alice');
    // From here on, only Onwatch's pages (the provider's dev pages load web fonts, which fail
    // offline).
    const problems = watchProblems(page);
    assert.match(page.url(), /\/environments\/live$/);
    await waitForHydration(page);
    await problems.streamOpen();
    assert.equal(await page.getByTestId('viewer').locator('.viewer-name').textContent(), 'Alice Example');
    assert.equal(await page.getByTestId('viewer-role').textContent(), 'responder');
    assert.equal(await page.locator('nav.mainnav').getByRole('link', { name: 'Admin' }).count(), 0, 'no admin link for a responder');
    await page.screenshot({ path: screenshotPath('signed-in-responder') });

    await page.getByTestId('signout').click();
    await page.waitForURL(/\/signin\?signed_out=1$/);
    const notice = page.getByRole('status');
    await notice.waitFor();
    assert.equal(await notice.textContent(), 'You are signed out.');
    await page.goto(`${server.url}/`);
    await page.waitForURL(/\/signin\?next=/);
    // Signing out leaves the signed-in page's stream behind (the page is gone): not a problem.
    assert.deepEqual(await problems.list(), []);
  } finally {
    await browser.close();
  }
});

test('a person in no mapped group is told why', async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/signin`);
    await signInWithSso(page, 'carol');
    const problem = page.getByTestId('problem');
    await problem.waitFor();
    assert.match(await problem.textContent(), /carol signed in with oidc, but none of the account's memberships gives a role/);
    // What carol has and what would give a role, each in its own entry of the page's facts.
    assert.equal(await fact(page, 'Your memberships').textContent(), 'none');
    assert.deepEqual((await fact(page, 'Memberships with a role').textContent()).split(', ').sort(),
      ['builder-admins', 'builder-oncall', 'builder-team']);
    await page.screenshot({ path: screenshotPath('signin-refused') });
  } finally {
    await browser.close();
  }
});

test('an admin revokes a session open in another browser, which then stops', async () => {
  const adminBrowser = await launchBrowser();
  const userBrowser = await launchBrowser();
  try {
    const user = await userBrowser.context.newPage();
    await user.goto(`${server.url}/signin?next=%2F`);
    await signInWithSso(user, 'bob');
    const userProblems = watchProblems(user);
    await waitForHydration(user);
    await userProblems.streamOpen();
    assert.equal(await user.getByTestId('viewer-role').textContent(), 'viewer');

    const admin = await adminBrowser.context.newPage();
    await admin.goto(`${server.url}/signin`);
    await signInWithSso(admin, 'root');
    const adminProblems = watchProblems(admin);
    await waitForHydration(admin);
    await admin.locator('nav.mainnav').getByRole('link', { name: 'Admin' }).click();
    await admin.getByRole('heading', { level: 1, name: 'Active sessions' }).waitFor();
    const row = admin.getByTestId('sessions').locator('tr[data-login="bob"]');
    await row.waitFor();
    assert.ok((await row.locator('td').allTextContents()).includes('viewer'), 'the role has a cell of its own');
    await admin.screenshot({ path: screenshotPath('admin-sessions'), fullPage: true });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await admin.getByTestId('revoke-result').waitFor();
    assert.match(await admin.getByTestId('revoke-result').textContent(), /revoked/);
    await row.waitFor({ state: 'detached' });

    // Bob's open dashboard learns within seconds that the session is gone.
    await user.getByTestId('signed-out-banner').waitFor({ timeout: 20_000 });
    await user.screenshot({ path: screenshotPath('session-revoked') });
    // The server ended the stream with `signed_out` and the page closed it: no stream error.
    assert.deepEqual(await userProblems.list(), []);
    assert.deepEqual(await adminProblems.list(), []);
    await user.reload();
    await user.waitForURL(/\/signin\?next=/);
  } finally {
    await adminBrowser.close();
    await userBrowser.close();
  }
});
