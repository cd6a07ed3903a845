// `make bench`: what a browser downloads, measured by a browser. Headless Chromium with an empty
// cache loads the dashboard signed in and counts every byte that came over the wire for it (the
// page, the scripts, the WASM and its chunk loader, the CSS, the data calls; headers included,
// brotli accepted as browsers do); then, for each other page, another cold browser loads the
// dashboard and follows a link to the page, and what that visit added is counted. A second load
// of the dashboard (a reload: the files revalidated) is counted too.
//
// Every response must be a success (2xx or 304) and no request may fail, or the run exits
// non-zero: a figure from a half-failed load would flatter. Left out: TLS (the bench runs plain
// HTTP on loopback), and the live-update stream, which stays open (its bytes are not the load's).
//
//   node end2end/bench-load.mjs BASE_URL PATH…   (signs in by the development sign-in, as admin,
//   so that every page can be visited)
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [base, ...pages] = process.argv.slice(2);
if (!base) {
  console.error('usage: bench-load.mjs BASE_URL PATH…');
  process.exit(2);
}
const signin = await fetch(`${base}/auth/dev`, {
  method: 'POST',
  redirect: 'manual',
  headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
  body: 'name=bench-load&role=admin',
});
const cookies = signin.headers.getSetCookie().map((c) => c.split(';')[0].split('='));
if (signin.status !== 303 || cookies.length === 0) {
  console.error(`bench-load: the development sign-in answered ${signin.status}`);
  process.exit(1);
}
const STREAM = '/api/fleet/events';

async function coldBrowser() {
  const dir = mkdtempSync(path.join(tmpdir(), 'onwatch-bench-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const u = new URL(base);
  await context.addCookies(cookies.map(([name, ...value]) => ({ name, value: value.join('='), domain: u.hostname, path: '/' })));
  return { context, async close() { await context.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** Counts the bytes of every finished request of `page` from now on (CDP's encodedDataLength:
 * body as sent plus headers), and every failure. */
async function meter(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const reqs = new Map();
  const m = { bytes: 0, files: [], failures: [], stop: () => cdp.detach() };
  cdp.on('Network.responseReceived', (e) => {
    const r = reqs.get(e.requestId) ?? {};
    r.url = e.response.url; r.status = e.response.status; r.fromCache = e.response.fromDiskCache;
    reqs.set(e.requestId, r);
  });
  cdp.on('Network.requestWillBeSent', (e) => reqs.set(e.requestId, { ...(reqs.get(e.requestId) ?? {}), url: e.request.url }));
  cdp.on('Network.loadingFinished', (e) => {
    const r = reqs.get(e.requestId) ?? {};
    if (new URL(r.url).pathname === STREAM) return;
    m.bytes += e.encodedDataLength;
    m.files.push({ url: r.url, status: r.status, bytes: e.encodedDataLength });
    if (!(r.status >= 200 && r.status < 300) && r.status !== 304) m.failures.push(`${r.status} ${r.url}`);
  });
  cdp.on('Network.loadingFailed', (e) => {
    const r = reqs.get(e.requestId) ?? {};
    if (r.url && new URL(r.url).pathname === STREAM) return;
    m.failures.push(`${e.errorText} ${r.url}`);
  });
  return m;
}

/** Resolves once nothing but the live-update stream has been in flight for 500 ms. */
async function settled(page) {
  await page.waitForFunction(() => document.documentElement.dataset.hydrated === 'true', null, { timeout: 60_000 });
  await page.waitForLoadState('networkidle').catch(() => {});
  // The stream keeps one request open for good, so networkidle may never come; resource timing
  // tells when the last other request ended.
  await page.waitForFunction((stream) => {
    const last = performance.getEntriesByType('resource')
      .filter((e) => !e.name.includes(stream))
      .reduce((t, e) => Math.max(t, e.responseEnd), 0);
    return performance.now() - last > 500;
  }, STREAM, { polling: 100, timeout: 30_000 });
}

function check(m, what) {
  if (m.failures.length) {
    console.error(`bench-load: ${what}: ${m.failures.length} request(s) did not succeed:\n  ${m.failures.join('\n  ')}`);
    process.exit(1);
  }
}

const kb = (b) => (b / 1024).toFixed(1);
const out = { dashboard: null, reload: null, pages: [] };

{
  const browser = await coldBrowser();
  const page = await browser.context.newPage();
  const m = await meter(page);
  const res = await page.goto(base + '/');
  if (res.status() !== 200) { console.error(`bench-load: / answered ${res.status()}`); process.exit(1); }
  if (new URL(page.url()).pathname !== '/') { console.error(`bench-load: not signed in (landed on ${page.url()})`); process.exit(1); }
  await settled(page);
  await m.stop(); // what follows is the second load's
  check(m, 'dashboard first load');
  out.dashboard = m;
  const again = await meter(page);
  await page.reload();
  await settled(page);
  check(again, 'dashboard second load');
  out.reload = again;
  await browser.close();
}

for (const p of pages) {
  const browser = await coldBrowser();
  const page = await browser.context.newPage();
  await page.goto(base + '/');
  await settled(page);
  const m = await meter(page);
  await page.evaluate((href) => {
    const a = document.createElement('a');
    a.href = href;
    document.querySelector('main').append(a);
    a.click();
  }, p);
  await page.waitForURL((u) => u.pathname === p);
  await settled(page);
  if (await page.locator('[data-testid="chunk-failed"], [data-testid="chunk-failed-banner"]').count()) {
    console.error(`bench-load: ${p}: its chunk did not load`);
    process.exit(1);
  }
  check(m, `first visit of ${p}`);
  out.pages.push({ path: p, m });
  await browser.close();
}

const d = out.dashboard;
console.log('  dashboard first load, cold cache, signed in (bytes on the wire incl. headers):');
for (const f of d.files.sort((a, b) => b.bytes - a.bytes).slice(0, 8)) {
  console.log(`    ${String(f.status).padStart(3)} ${String(f.bytes).padStart(9)}  ${new URL(f.url).pathname}`);
}
if (d.files.length > 8) console.log(`    … and ${d.files.length - 8} smaller requests`);
console.log(`  dashboard first load: ${kb(d.bytes)} KB in ${d.files.length} requests; target <= 250 KB: ${d.bytes <= 250 * 1024 ? 'met' : 'MISSED'}`);
console.log(`  dashboard second load (reload, files revalidated): ${kb(out.reload.bytes)} KB in ${out.reload.files.length} requests`);
if (process.env.BENCH_LOAD_VERBOSE) {
  for (const f of d.files) console.log(`    ${String(f.status).padStart(3)} ${String(f.bytes).padStart(9)}  ${f.url}`);
}
console.log('  each other page, first visit by a link from the dashboard (what it adds; target <= 150 KB):');
console.log(`    ${'page'.padEnd(40)} ${'in all'.padStart(9)} ${'its code'.padStart(10)} ${'its data'.padStart(10)}  requests`);
const isCode = (f) => new URL(f.url).pathname.startsWith('/pkg/');
const sum = (fs) => fs.reduce((t, f) => t + f.bytes, 0);
let worst = 0;
for (const { path: p, m } of out.pages) {
  worst = Math.max(worst, m.bytes);
  const code = m.files.filter(isCode);
  console.log(`    ${p.padEnd(40)} ${kb(m.bytes).padStart(6)} KB ${kb(sum(code)).padStart(7)} KB ${kb(m.bytes - sum(code)).padStart(7)} KB  ${String(m.files.length).padStart(4)} (${code.length} code)`);
}
if (out.pages.length) console.log(`  largest first visit: ${kb(worst)} KB; target <= 150 KB: ${worst <= 150 * 1024 ? 'met' : 'MISSED'}`);
