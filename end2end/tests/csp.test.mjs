// What each page tells the browser: a Content-Security-Policy whose scripts are trusted by a
// nonce made for that page. Every page loads and hydrates under it with no violation (each would
// be a console error and a `securitypolicyviolation` event, both watched), and a script that got
// into a page as markup does not run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, watchProblems, devSignIn, waitForHydration } from '../lib/harness.mjs';

let world, server, browser;

before(async () => {
  world = await startWorld();
  ({ server, browser } = world);
});

after(async () => {
  await world?.stop();
});

const PAGES = [
  '/', '/environments', '/environments/live', '/environments/acceptance/hosts/builder-api-acceptance-1',
  '/releases', '/broken', '/services', '/services/api', '/services/sentinel', '/actions', '/audit',
  '/console', '/incidents', '/oncall', '/onboarding', '/admin/sessions',
];

/** The nonce the answer's policy names, after checking the policy's fixed parts. */
function policyNonce(headers, path) {
  const csp = headers['content-security-policy'] ?? '';
  for (const part of ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "'strict-dynamic'"]) {
    assert.ok(csp.includes(part), `${path}: the policy has ${part}: ${csp}`);
  }
  assert.ok(!/script-src[^;]*'unsafe-inline'/.test(csp), `${path}: no inline scripts by default: ${csp}`);
  const nonce = /'nonce-([A-Za-z0-9_-]{16,})'/.exec(csp)?.[1];
  assert.ok(nonce, `${path}: a nonce in ${csp}`);
  return nonce;
}

test('every page loads and hydrates under its policy, with no violation', async () => {
  const page = await browser.context.newPage();
  const violations = [];
  await page.exposeFunction('onwatchCspViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.onwatchCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const problems = watchProblems(page);
  await devSignIn(page, server.url, { name: 'csp-admin', role: 'admin' });
  const seen = new Set();
  for (const path of PAGES) {
    const res = await page.goto(server.url + path);
    assert.equal(res.status(), 200, path);
    const nonce = policyNonce(res.headers(), path);
    assert.ok(!seen.has(nonce), `${path}: a fresh nonce for each page`);
    seen.add(nonce);
    await page.locator('h1').first().waitFor();
    await waitForHydration(page);
    // Every script that runs carries this page's nonce (data blocks are not scripts).
    const scripts = await page.locator('script:not([type="application/json"])').evaluateAll(
      (els) => els.map((s) => ({ nonce: s.nonce, src: s.src, type: s.type })),
    );
    assert.ok(scripts.length > 0, `${path}: the page has its scripts`);
    for (const s of scripts) assert.equal(s.nonce, nonce, `${path}: ${JSON.stringify(s)}`);
    assert.deepEqual(violations, [], path);
    assert.deepEqual(await problems.list(), [], path);
  }
  // The page that says "not found" is a page too.
  const missing = await page.goto(`${server.url}/no-such-page`);
  assert.equal(missing.status(), 404);
  policyNonce(missing.headers(), '/no-such-page');
  await waitForHydration(page);
  assert.deepEqual(violations, [], '/no-such-page');
  assert.deepEqual(await problems.list({ expected: [{ url: `${server.url}/no-such-page`, status: 404 }] }), []);

  // A script that got into the page as markup is refused by the browser, and says so.
  await page.goto(server.url + '/');
  await waitForHydration(page);
  const ran = await page.evaluate(() => new Promise((done) => {
    window.onwatchInjected = false;
    document.addEventListener('securitypolicyviolation', () => done(window.onwatchInjected), { once: true });
    const holder = document.createElement('div');
    holder.innerHTML = '<img src="data:,x" onerror="window.onwatchInjected = true">';
    document.body.append(holder);
  }));
  assert.equal(ran, false, 'an injected handler ran');
  assert.ok(violations.some((v) => v.startsWith('script-src')), JSON.stringify(violations));
  await page.close();
});

test('the sign-in page, seen by anyone, has the policy too', async () => {
  const page = await browser.context.newPage();
  const res = await page.goto(`${server.url}/signin`);
  assert.equal(res.status(), 200);
  policyNonce(res.headers(), '/signin');
  await page.close();
});
