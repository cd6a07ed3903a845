// Starts a real Onwatch server on a random port with a fresh SQLite store, and a headless Debian
// Chromium driven by playwright-core. Journeys import { startServer, launchBrowser } from here.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not yet */ }
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

/** Headless Debian Chromium with the flags this closed network needs. */
export async function launchBrowser() {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'onwatch-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Collects page errors and failed requests, so a journey can assert there were none. */
export function watchProblems(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().includes('/nope')) problems.push(`${r.status()} ${r.url()}`); });
  return problems;
}

export function screenshotPath(name) {
  mkdirSync(screenshotDir, { recursive: true });
  return path.join(screenshotDir, `${name}.png`);
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
  const child = spawn(fleetSimBinary(), ['--layout', 'demo', '--seed', '7', '--fleet-file', fleetFile], {
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
    async fault(body) {
      const r = await fetch(`${controlUrl}/faults`, { method: 'POST', body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`fault ${JSON.stringify(body)}: ${r.status} ${await r.text()}`);
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
