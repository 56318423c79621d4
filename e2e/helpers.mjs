// Shared parts of the browser tests: the `linli` server on a throw-away demo data dir, Debian's
// headless Chromium, and small page helpers (login, logout, screenshots, overflow warnings).
//
// Not a test file itself (`node --test` only picks up *.test.mjs).

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const LINLI_BIN = process.env.LINLI_BIN
  ? resolve(process.cwd(), process.env.LINLI_BIN)
  : resolve(HERE, '../target/debug/linli');
export const SHOTS = join(HERE, 'screenshots');
export const PASSWORD = 'demo-pass-2020';

export const PHONE = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
};
export const DESKTOP = {
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
  locale: 'zh-CN',
};

// ---------------------------------------------------------------- server

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** The environment for the server: SQLite in the data dir, whatever the caller's shell says. */
function childEnv() {
  const env = { ...process.env, LINLI_LOG: process.env.LINLI_LOG ?? 'warn' };
  delete env.LINLI_DATABASE_URL;
  delete env.LINLI_DATA;
  delete env.LINLI_LISTEN;
  return env;
}

/** Runs `linli demo --small` into `dataDir` (the whole tree, three buildings of residents and
 * three weeks of 2020 history: the full demo takes too long in a debug build); resolves with
 * what it printed. */
export async function buildDemo(dataDir) {
  const run = promisify(execFile);
  const { stdout, stderr } = await run(
    LINLI_BIN,
    ['demo', '--small', '--data', dataDir, '--password', PASSWORD],
    { env: childEnv(), timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return `${stdout}${stderr}`;
}

/** Starts `linli serve` and resolves once GET /healthz answers 200. */
export async function startServer(dataDir, port) {
  const child = spawn(
    LINLI_BIN,
    ['serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`],
    { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (b) => { log += b; });
  child.stderr.on('data', (b) => { log += b; });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      throw new Error(`linli serve exited early (${JSON.stringify(exited)}):\n${log}`);
    }
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`GET /healthz did not answer 200 within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const stop = async () => {
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  return { base, stop, log: () => log };
}

// ---------------------------------------------------------------- browser

/** Headless Debian Chromium with the quiet flags the tests use. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** True (after printing a notice and marking `t` skipped) when Chromium is not installed. */
export function skipWithoutChromium(t) {
  if (existsSync(CHROMIUM)) return false;
  console.log('notice: chromium not installed; skipping browser test');
  t.skip('chromium not installed');
  return true;
}

/**
 * Everything a browser test needs, torn down after `t`: a fresh demo data dir, `linli serve`
 * on a free port, and Chromium. `newPage(options)` opens a page in its own context with a
 * 15 s default timeout, its script errors and failed sub-resources collected into `problems`
 * (printed as warnings at the end).
 */
export async function startStack(t, { dataPrefix = 'linli-e2e-' } = {}) {
  assert.ok(existsSync(LINLI_BIN), `linli binary not found at ${LINLI_BIN} (set LINLI_BIN or run cargo build -p linli)`);
  mkdirSync(SHOTS, { recursive: true });

  const dataDir = mkdtempSync(join(tmpdir(), dataPrefix));
  const stack = { server: null, browser: null, problems: [], dataDir };
  t.after(async () => {
    // Reverse order of start: browser, server, data dir.
    if (stack.browser) await stack.browser.close();
    if (stack.server) {
      await stack.server.stop();
      const log = stack.server.log().trim();
      if (log) console.log(`server log:\n${log}`);
    }
    rmSync(dataDir, { recursive: true, force: true });
    for (const p of stack.problems) console.log(`warning: ${p}`);
  });

  const demoOut = await buildDemo(dataDir);
  console.log(demoOut.trim());

  stack.server = await startServer(dataDir, await freePort());
  stack.browser = await launchBrowser();

  stack.newPage = async (options) => {
    const context = await stack.browser.newContext(options);
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    watch(page, stack.problems);
    return page;
  };
  return stack;
}

// ---------------------------------------------------------------- page helpers

/** Clicks and waits for the navigation it starts; returns the final document's response. */
export async function clickAndWait(page, locator) {
  const nav = page.waitForNavigation({ waitUntil: 'load' });
  await locator.click();
  return nav;
}

export const pathOf = (page) => new URL(page.url()).pathname;
export const bodyText = (page) => page.locator('body').innerText();

/** A full-page screenshot in e2e/screenshots/. */
export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

/** Warns (does not fail) when a page is wider than its viewport: sideways scrolling on a phone. */
export async function reportOverflow(page, label) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  if (scroll > client) {
    console.log(`warning: ${label}: page is ${scroll}px wide in a ${client}px viewport`);
  }
}

/** Collects script errors and failed sub-resources so the log tells why a page looks wrong. */
export function watch(page, problems) {
  page.on('pageerror', (err) => problems.push(`script error on ${page.url()}: ${err.message}`));
  page.on('response', (res) => {
    const req = res.request();
    if (req.isNavigationRequest() || res.status() < 400) return;
    if (new URL(res.url()).pathname === '/favicon.ico') return;
    problems.push(`${res.status()} for ${req.resourceType()} ${res.url()} on ${page.url()}`);
  });
}

export async function openLogin(page, base) {
  const res = await page.goto(`${base}/`);
  assert.equal(pathOf(page), '/login', 'an anonymous visit to / should redirect to /login');
  assert.equal(res.status(), 200, 'the login page should answer 200');
  const form = page.locator('form[action="/login"]');
  assert.equal(await form.count(), 1, 'the login page has one form posting to /login');
  assert.equal(await form.locator('input[name=csrf]').count(), 1, 'the login form carries a csrf field');
}

export async function logIn(page, base, username, password) {
  await openLogin(page, base);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  return clickAndWait(page, page.locator('form[action="/login"] button[type=submit]'));
}

export async function logOut(page) {
  const button = page.getByRole('button', { name: '退出' }).first();
  await clickAndWait(page, button);
  assert.equal(pathOf(page), '/login', 'logging out should land on /login');
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
export const ID_CHECKS = '10X98765432';

/** The check character (GB 11643, ISO 7064 MOD 11-2) for the first 17 digits of an ID number. */
export function idCheck(body17) {
  assert.match(body17, /^\d{17}$/);
  let sum = 0;
  for (let i = 0; i < 17; i += 1) sum += Number(body17[i]) * ID_WEIGHTS[i];
  return ID_CHECKS[sum % 11];
}

/** The value of the first <option> of `select` whose label contains `text`. */
export async function optionValueContaining(select, text) {
  const options = await select.locator('option').evaluateAll((els) =>
    els.map((o) => ({ value: o.value, label: o.textContent })));
  const hit = options.find((o) => o.label.includes(text));
  if (!hit) {
    assert.fail(`no option containing ${text}; options: ${JSON.stringify(options.map((o) => o.label.trim()))}`);
  }
  return hit.value;
}

/** Today in China, as the server dates things. */
export const chinaToday = () => new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);

/**
 * Through the API as the signed-in official on `page`: the 9th edition republished from today
 * and 武汉市洪山区 (420111) declared high-risk from today, so arrivals from there today get 7
 * days of centralised quarantine.
 */
export async function quarantineFromToday(page, base) {
  const listed = await page.request.get(`${base}/api/v1/policies`);
  assert.equal(listed.status(), 200);
  const { policies } = await listed.json();
  const ninth = policies.filter((p) => p.key === 'ninth-edition');
  assert.ok(ninth.length > 0, 'the 9th edition is published');
  const version = Math.max(...ninth.map((p) => p.version)) + 1;
  const { id: _id, ...draft } = ninth[0];
  const published = await page.request.post(`${base}/api/v1/policies`, {
    data: { ...draft, version, effective_from: chinaToday() },
  });
  assert.equal(published.status(), 201, await published.text());
  const area = await page.request.post(`${base}/api/v1/risk-areas`, {
    data: { division_code: '420111', level: 'high', from: chinaToday() },
  });
  assert.equal(area.status(), 201, await area.text());
}
