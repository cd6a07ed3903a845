// Starts a real Onwatch server on a random port with a fresh SQLite store, and a headless Debian
// Chromium driven by playwright-core. Journeys import { startServer, launchBrowser } from here.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const screenshotDir = path.join(root, 'end2end', 'screenshots');

function onwatchBinary() {
  if (process.env.ONWATCH_TEST_BIN) return process.env.ONWATCH_TEST_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
  return path.join(target, 'debug', 'onwatch');
}

/** Starts onwatch; resolves to { url, stop() } once /healthz answers 200. */
export async function startServer({ env = {}, args = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'onwatch-e2e-'));
  const child = spawn(onwatchBinary(), args, {
    cwd: dir,
    env: {
      ...process.env,
      ONWATCH_SERVER__LISTEN: '127.0.0.1:0',
      ONWATCH_SERVER__SITE_ROOT: process.env.ONWATCH_TEST_SITE_ROOT || path.join(root, 'target', 'site'),
      ONWATCH_STORE__URL: `sqlite://${dir}/onwatch.db`,
      ONWATCH_AUTH__DEV_SIGNIN: 'true',
      RUST_LOG: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`onwatch did not start in 30 s:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = output.match(/listening on (http:\/\/[0-9.:]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`onwatch exited with ${code}:\n${output}`)); });
  });
  // Listening is not ready: wait for /healthz to say ok, and fail (not carry on) if it never does.
  let health = 'no answer';
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
      health = `${res.status} ${await res.text()}`;
    } catch (e) { health = e.message; }
    if (i >= 100) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`onwatch at ${url} never answered /healthz with 200 in 10 s (last: ${health}):\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Headless Debian Chromium with the flags this closed network needs. Every document it opens
 * reports what happens to its live-update streams (see `watchProblems`); `javaScriptEnabled:
 * false` shows pages as the server rendered them, before any script runs.
 */
export async function launchBrowser({ javaScriptEnabled = true, timezoneId = 'UTC' } = {}) {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'onwatch-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    javaScriptEnabled,
    // The browser's own time zone (what `Intl` reports to the page, and so the zone Onwatch's
    // pages speak): UTC unless a journey asks for another, whatever the machine's zone.
    timezoneId,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  await watchStreams(context);
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The live-update stream (app/src/live.rs): its failures are a journey's failures. */
export const STREAM_PATH = '/api/fleet/events';
const isStream = (url) => { try { return new URL(url).pathname === STREAM_PATH; } catch { return false; } };

// Per page: the document it shows now (as that document announced itself), the documents whose
// stream opened, those that closed a stream themselves, and the watchers of what the page reports.
const pages = new WeakMap();
function pageState(page) {
  let st = pages.get(page);
  if (!st) { st = { doc: null, opened: new Set(), closedStreams: new Set(), listeners: new Set() }; pages.set(page, st); }
  return st;
}
const watchedContexts = new WeakSet();

/**
 * Runs in every document before the page's own scripts: names the document, and wraps
 * EventSource so that the page itself says when a stream errs. Chromium gives a journey no other
 * way to tell a stream that failed from one whose page went away: both end in `requestfailed`
 * with net::ERR_ABORTED, but only a failure fires `error` in the page (a document that unloads
 * or closes its stream fires none).
 */
function streamWatchScript() {
  const report = (msg) => {
    try { Promise.resolve(window.__onwatchReport(msg)).catch(() => {}); } catch { /* the page is going */ }
  };
  const doc = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  Object.defineProperty(window, '__onwatchDoc', { value: doc });
  if (window.top === window) report({ kind: 'document', doc, url: location.href });
  const Native = window.EventSource;
  if (typeof Native !== 'function') return;
  class WatchedEventSource extends Native {
    constructor(url, init) {
      super(url, init);
      const href = this.url;
      this.addEventListener('open', () => report({ kind: 'stream-open', doc, url: href }));
      this.addEventListener('error', () => report({ kind: 'stream-error', doc, url: href, readyState: this.readyState }));
    }
    close() {
      report({ kind: 'stream-closed', doc, url: this.url });
      super.close();
    }
  }
  window.EventSource = WatchedEventSource;
}

async function watchStreams(context) {
  // The binding first: the script calls it as soon as a document starts.
  await context.exposeBinding('__onwatchReport', ({ page, frame }, msg) => {
    if (!page) return;
    const st = pageState(page);
    if (msg.kind === 'document') {
      if (frame === page.mainFrame()) st.doc = msg.doc;
      return;
    }
    if (msg.kind === 'stream-open') st.opened.add(msg.doc);
    if (msg.kind === 'stream-closed') st.closedStreams.add(msg.doc);
    for (const listener of st.listeners) listener(msg);
  });
  await context.addInitScript(streamWatchScript);
  watchedContexts.add(context);
}

/** The document a page shows now, as it named itself; null once the page is closed. */
async function currentDocument(page) {
  for (let attempt = 0; ; attempt++) {
    if (page.isClosed()) return null;
    try {
      return await page.evaluate(() => window.__onwatchDoc ?? null);
    } catch (e) {
      // A navigation destroyed the context we asked in: ask the next document.
      if (attempt >= 4 || page.isClosed()) throw e;
      await page.waitForLoadState('domcontentloaded').catch(() => {});
    }
  }
}

/**
 * Watches a page for problems, from now until it closes: page errors, console errors, HTTP
 * answers >= 400, failed requests, and any failure of the live-update stream (an answer other
 * than a 200 event stream, an `error` event in the page, a request that failed or was aborted
 * while its document was still shown). Not a problem: the stream request a document leaves
 * behind when the page navigates away or closes (Chromium reports it as net::ERR_ABORTED), or
 * one the page closed itself (after a `signed_out` event).
 *
 *   const problems = watchProblems(page);
 *   ...
 *   assert.deepEqual(await problems.list(), []);
 *
 * `list()` is the whole check: it also judges the aborted stream requests, which can only be
 * told apart once it is known whether their document is still shown. The returned array itself
 * holds the problems known at once (so `assert.deepEqual(problems, [])` still checks all but
 * those). `list({ expected })` leaves out exactly the HTTP answers a journey provoked on
 * purpose, each given as { url, status } (full URL), and the console line Chromium logs for each.
 */
export function watchProblems(page) {
  if (!watchedContexts.has(page.context())) {
    throw new Error('watchProblems: open the page in a browser from launchBrowser(), which watches its streams');
  }
  const st = pageState(page);
  const problems = []; // the lines, as known at once
  const details = []; // the same, as { text, url?, status?, console? }, for `expected`
  const record = (p) => { details.push(p); problems.push(p.text); };
  const aborted = []; // stream requests that ended in net::ERR_ABORTED: judged in list()
  const requestDoc = new WeakMap();
  let closed = false;
  page.on('close', () => { closed = true; st.listeners.delete(onReport); });
  page.on('pageerror', (e) => { if (!closed) record({ text: `page error: ${e.message}` }); });
  page.on('console', (m) => {
    if (closed || m.type() !== 'error') return;
    const at = m.location()?.url;
    record({ text: `console error: ${m.text()}${at ? ` [at ${at}]` : ''}`, url: at, console: true });
  });
  page.on('request', (r) => { if (isStream(r.url())) requestDoc.set(r, st.doc); });
  page.on('response', (r) => {
    if (closed) return;
    const status = r.status();
    if (isStream(r.url())) {
      const type = r.headers()['content-type'] ?? '';
      if (status !== 200 || !type.startsWith('text/event-stream')) {
        record({ text: `live-update stream answered ${status} (${type || 'no content type'}): ${r.url()}`, url: r.url(), status });
      }
    } else if (status >= 400) {
      record({ text: `${status} ${r.url()}`, url: r.url(), status });
    }
  });
  page.on('requestfailed', (r) => {
    if (closed) return;
    const error = r.failure()?.errorText ?? 'unknown error';
    if (error === 'net::ERR_ABORTED') {
      // Other requests are aborted on purpose (a route change cancels a fetch); the stream
      // only when its document goes or the page closes it, which list() can tell.
      if (isStream(r.url())) aborted.push({ url: r.url(), doc: requestDoc.get(r) ?? null });
      return;
    }
    record({ text: `request failed (${error}): ${r.method()} ${r.url()}`, url: r.url() });
  });
  const onReport = (msg) => {
    if (closed || msg.kind !== 'stream-error') return;
    const how = msg.readyState === 2 ? 'closed: the browser gave up on it' : 'the connection broke; reconnecting';
    record({ text: `live-update stream error (${how}): ${msg.url}`, url: msg.url });
  };
  st.listeners.add(onReport);

  // Methods, not elements: non-enumerable, so the array still compares as its lines.
  Object.defineProperties(problems, {
    /** How many stream requests ended in net::ERR_ABORTED (whether or not list() counts them). */
    abortedStreams: { get: () => aborted.length },
    /**
     * Resolves once the document the page shows now has its live-update stream open, so that a
     * journey's "no problems" covers a stream that really ran.
     */
    streamOpen: {
      async value({ timeout = 15_000 } = {}) {
        const current = await currentDocument(page);
        if (current === null) throw new Error('streamOpen: the page is closed');
        if (st.opened.has(current)) return;
        await new Promise((resolve, reject) => {
          const done = (err) => { clearTimeout(timer); st.listeners.delete(listener); err ? reject(err) : resolve(); };
          const listener = (msg) => { if (msg.kind === 'stream-open' && msg.doc === current) done(); };
          const timer = setTimeout(() => done(new Error(`the live-update stream of ${page.url()} did not open in ${timeout} ms`)), timeout);
          st.listeners.add(listener);
        });
      },
    },
    /** Every problem so far, as lines, aborted streams judged; see watchProblems. */
    list: {
      async value({ expected = [] } = {}) {
        const current = await currentDocument(page);
        const out = [];
        for (const a of aborted) {
          if (current === null) continue; // the page closed: its streams went with it
          if (a.doc === null) {
            out.push(`live-update stream aborted, started by a document the harness does not know: ${a.url}`);
          } else if (a.doc === current && !st.closedStreams.has(a.doc)) {
            out.push(`live-update stream aborted while its page was still shown: ${a.url}`);
          }
          // Otherwise its document went away (navigation, reload) or closed the stream itself.
        }
        const provoked = (p) => expected.some((e) => p.url === e.url && (
          p.status === e.status
          || (p.console && p.text.includes(`Failed to load resource: the server responded with a status of ${e.status} `))));
        return [...details.filter((p) => !provoked(p)).map((p) => p.text), ...out];
      },
    },
  });
  return problems;
}

export function screenshotPath(name) {
  mkdirSync(screenshotDir, { recursive: true });
  return path.join(screenshotDir, `${name}.png`);
}

/** The value of a `<dl class="facts">` entry, by its exact term (e.g. "Supervisor"). */
export function fact(page, term) {
  return page.locator('dl.facts').locator(`xpath=dt[normalize-space()=${JSON.stringify(term)}]/following-sibling::dd[1]`);
}

/** Signs in through the development sign-in form, as a person would; lands on `next`. */
export async function devSignIn(page, url, { name = 'e2e-responder', role = 'responder', next = '/' } = {}) {
  await page.goto(`${url}/signin?next=${encodeURIComponent(next)}`);
  const form = page.getByTestId('dev-signin');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Role').selectOption(role);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith('/signin') && !u.pathname.startsWith('/auth/')),
    form.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}

/** Signs in over HTTP (for plain `fetch` checks); resolves to the Cookie header to send. */
export async function devSessionCookie(url, { name = 'e2e-viewer', role = 'viewer' } = {}) {
  const res = await fetch(`${url}/auth/dev`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name, role, next: '/' }).toString(),
  });
  if (res.status !== 303) throw new Error(`dev sign-in answered ${res.status}: ${await res.text()}`);
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

/** Waits until the WASM has hydrated the page (the toggle reacts only after hydration). */
export async function waitForHydration(page) {
  // frontend/src/lib.rs sets this once hydrate_body() has attached every handler.
  await page.waitForFunction(() => document.documentElement.dataset.hydrated === 'true', null, { timeout: 30_000 });
}

function fleetSimBinary() {
  if (process.env.ONWATCH_TEST_FLEET_SIM) return process.env.ONWATCH_TEST_FLEET_SIM;
  const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
  return path.join(target, 'debug', 'fleet-sim');
}

/** Starts the fleet simulator (demo layout); resolves to { controlUrl, fleetFile, fault(), stop() }. */
export async function startSim() {
  const dir = mkdtempSync(path.join(tmpdir(), 'onwatch-sim-'));
  const fleetFile = path.join(dir, 'fleet.toml');
  const ctlSecretFile = path.join(dir, 'ctl-secret');
  const child = spawn(fleetSimBinary(), ['--layout', 'demo', '--seed', '7', '--fleet-file', fleetFile, '--ctl-secret-file', ctlSecretFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const controlUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fleet-sim did not start:\n${output}`)), 20_000);
    const onData = (c) => {
      output += c.toString();
      const m = output.match(/control API (http:\/\/[0-9.:]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`fleet-sim exited with ${code}:\n${output}`)); });
  });
  return {
    controlUrl,
    fleetFile,
    ctlSecretFile,
    /** A configuration file for Onwatch with both environments acting through this simulator. */
    actionsConfig() {
      const file = path.join(dir, 'onwatch.toml');
      const tokenFile = path.join(dir, 'builder-token');
      writeFileSync(tokenFile, '_e2e-builder-token\n', { mode: 0o600 });
      writeFileSync(file, [
        '[environments.live]', 'production = true', `ctl_secret_file = ${JSON.stringify(ctlSecretFile)}`,
        `builder_token_file = ${JSON.stringify(tokenFile)}`,
        '[environments.acceptance]', 'production = false', `ctl_secret_file = ${JSON.stringify(ctlSecretFile)}`,
        `builder_token_file = ${JSON.stringify(tokenFile)}`,
        '[actions]', 'cooldown_secs = 0', '',
      ].join('\n'));
      return file;
    },
    async fault(body) {
      const r = await fetch(`${controlUrl}/faults`, { method: 'POST', body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`fault ${JSON.stringify(body)}: ${r.status} ${await r.text()}`);
    },
    /** A fault of an environment's build service: { environment, fault: 'stall' | … }. */
    async buildFault(body) {
      const r = await fetch(`${controlUrl}/builds`, { method: 'POST', body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`build fault ${JSON.stringify(body)}: ${r.status} ${await r.text()}`);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The test cluster's admin URL (`make test` sets it; otherwise the script starts or reuses one). */
export function postgresAdminUrl() {
  if (process.env.ONWATCH_TEST_PG_URL) return process.env.ONWATCH_TEST_PG_URL;
  return execFileSync('bash', [path.join(root, 'scripts', 'pg-test-cluster.sh'), 'start'], { encoding: 'utf8' }).trim();
}

/**
 * A fresh copy of the seeded builder datastore (fleet-sim seed-datastore): three databases, 128
 * shards, the read-only role. `configFor(env)` gives Onwatch's TOML for it; `psql(db, sql)` runs
 * SQL as the cluster's admin (to break a shard, for example).
 */
export function seedDatastore(prefix) {
  const admin = postgresAdminUrl();
  const out = execFileSync(fleetSimBinary(), ['seed-datastore', admin, prefix], { encoding: 'utf8' });
  const databases = Object.fromEntries(out.trim().split('\n').map((l) => l.trim().split(/\s+/)));
  const base = admin.slice(0, admin.lastIndexOf('/'));
  return {
    databases,
    configFor(env) {
      return Object.entries(databases)
        .map(([db, url]) => `[environments.${env}.databases.${db}]\nurl = ${JSON.stringify(url)}\n`)
        .join('\n');
    },
    /** Drops this copy (each costs about 60 MB a database). */
    drop() {
      for (const db of Object.keys(databases)) {
        execFileSync('psql', ['-X', '-q', '-d', admin, '-c', `DROP DATABASE IF EXISTS ${prefix}_${db} WITH (FORCE)`]);
      }
    },
    psql(db, sql) {
      return execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', `${base}/${prefix}_${db}`, '-c', sql], { encoding: 'utf8' });
    },
  };
}

/**
 * A loopback OpenSSH server (scripts/loopback-sshd.sh) whose `systemctl` and `journalctl` are the
 * demo's, acting on and following `sim`; `configFor(env)` gives Onwatch's `[environments.ENV.ssh]`.
 */
export async function startSshd(sim) {
  const dir = mkdtempSync(path.join(tmpdir(), 'onwatch-sshd-'));
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  execFileSync('bash', [path.join(root, 'scripts', 'loopback-sshd.sh'), 'setup', dir, String(port)]);
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const up = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 100) throw new Error('sshd did not listen within 5 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  // The datastore's service directory on this host: its journalctl names a stale
  // data/postmaster.pid there while the datastore is stopped.
  const locksDir = path.join(dir, 'hab', 'svc', 'builder-datastore');
  mkdirSync(path.join(locksDir, 'data'), { recursive: true });
  const env = `ONWATCH_DEMO_HOST={host} ONWATCH_DEMO_CONTROL=${sim.controlUrl} ONWATCH_DEMO_LOCKS_DIR=${locksDir}`;
  const journal = `${env} ${path.join(root, 'scripts', 'demo-ssh', 'journalctl')}`;
  // The sentinel's unit, as the demo's systemctl keeps it: this file once it was (re)started.
  const sentinelState = path.join(dir, 'sentinel-restarted');
  const systemctl = `${env} ONWATCH_DEMO_STATE=${sentinelState} ${path.join(root, 'scripts', 'demo-ssh', 'systemctl')}`;
  return {
    locksDir,
    sentinelState,
    /** `[datastore_locks]` pointed at this host's datastore directory. */
    locksConfig() {
      return ['[datastore_locks]', `service_dir = ${JSON.stringify(locksDir)}`,
        `owners = ${JSON.stringify(['root', user])}`, ''].join('\n');
    },
    configFor(name) {
      return [
        `[environments.${name}.ssh]`, `user = ${JSON.stringify(user)}`, `port = ${port}`,
        `key_file = ${JSON.stringify(path.join(dir, 'client_ed25519'))}`,
        `known_hosts_file = ${JSON.stringify(path.join(dir, 'known_hosts'))}`,
        `[environments.${name}.ssh.commands]`,
        `supervisor_log = ${JSON.stringify(`${journal} -u hab-sup {args}`)}`,
        `sentinel_log = ${JSON.stringify(`${journal} -u sentinel {args}`)}`,
        `restart_sentinel = ${JSON.stringify(`${systemctl} restart sentinel`)}`,
        `sentinel_status = ${JSON.stringify(`${systemctl} is-active sentinel`)}`,
        // The loopback sshd runs as whoever runs the tests: no sudo.
        'run_script = "sh -c {script}"', '',
      ].join('\n');
    },
    stop() { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); },
  };
}

/**
 * The set-up most journeys share: the simulated fleet, Onwatch acting on it (its actions
 * configuration, static inventory), optionally a loopback sshd for the environments in `ssh`
 * (and `[datastore_locks]` on it with `locks`), sections of `config` appended to the
 * configuration, and a browser. `stop()` ends all of it; if a
 * step fails, what had started is stopped before the error goes on.
 */
export async function startWorld({ ssh = [], locks = false, config: extraConfig = '' } = {}) {
  const world = { sim: null, sshd: null, server: null, browser: null };
  world.stop = async () => {
    await world.browser?.close();
    await world.server?.stop();
    world.sshd?.stop();
    await world.sim?.stop();
  };
  try {
    world.sim = await startSim();
    const config = world.sim.actionsConfig();
    if (ssh.length || locks) {
      world.sshd = await startSshd(world.sim);
      const extra = ssh.map((env) => world.sshd.configFor(env));
      if (locks) extra.push(world.sshd.locksConfig());
      writeFileSync(config, [readFileSync(config, 'utf8'), ...extra].join('\n'));
    }
    // Sections of the journey's own (an [oncall] rotation, …), appended to the configuration.
    if (extraConfig) writeFileSync(config, `${readFileSync(config, 'utf8')}\n${extraConfig}\n`);
    world.server = await startServer({
      args: ['--config', config],
      env: { ONWATCH_INVENTORY__SOURCE: 'static', ONWATCH_INVENTORY__FLEET_FILE: world.sim.fleetFile },
    });
    world.browser = await launchBrowser();
    return world;
  } catch (e) {
    await world.stop().catch(() => {});
    throw e;
  }
}
