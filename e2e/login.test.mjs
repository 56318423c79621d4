// Browser test: the real `linli` server on a demo data dir, driven by Debian's headless Chromium.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli npm test
//
// Screenshots land in e2e/screenshots/ (gitignored) so a person can look at what users see.

import { test } from 'node:test';
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
const CHROMIUM = '/usr/bin/chromium';
const LINLI_BIN = process.env.LINLI_BIN
  ? resolve(process.cwd(), process.env.LINLI_BIN)
  : resolve(HERE, '../target/debug/linli');
const SHOTS = join(HERE, 'screenshots');
const PASSWORD = 'demo-pass-2020';

const PHONE = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
};
const DESKTOP = {
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
  locale: 'zh-CN',
};

// ---------------------------------------------------------------- server

/** A port that was free a moment ago on 127.0.0.1. */
function freePort() {
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

async function buildDemo(dataDir) {
  const run = promisify(execFile);
  const { stdout, stderr } = await run(
    LINLI_BIN,
    ['demo', '--data', dataDir, '--password', PASSWORD],
    { env: childEnv(), timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return `${stdout}${stderr}`;
}

/** Starts `linli serve` and resolves once GET /healthz answers 200. */
async function startServer(dataDir, port) {
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

// ---------------------------------------------------------------- page helpers

/** Clicks and waits for the navigation it starts; returns the final document's response. */
async function clickAndWait(page, locator) {
  const nav = page.waitForNavigation({ waitUntil: 'load' });
  await locator.click();
  return nav;
}

const pathOf = (page) => new URL(page.url()).pathname;
const bodyText = (page) => page.locator('body').innerText();

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

/** Warns (does not fail) when a page is wider than its viewport: sideways scrolling on a phone. */
async function reportOverflow(page, label) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  if (scroll > client) {
    console.log(`warning: ${label}: page is ${scroll}px wide in a ${client}px viewport`);
  }
}

/** Collects script errors and failed sub-resources so the log tells why a page looks wrong. */
function watch(page, problems) {
  page.on('pageerror', (err) => problems.push(`script error on ${page.url()}: ${err.message}`));
  page.on('response', (res) => {
    const req = res.request();
    if (req.isNavigationRequest() || res.status() < 400) return;
    if (new URL(res.url()).pathname === '/favicon.ico') return;
    problems.push(`${res.status()} for ${req.resourceType()} ${res.url()} on ${page.url()}`);
  });
}

async function openLogin(page, base) {
  const res = await page.goto(`${base}/`);
  assert.equal(pathOf(page), '/login', 'an anonymous visit to / should redirect to /login');
  assert.equal(res.status(), 200, 'the login page should answer 200');
  const form = page.locator('form[action="/login"]');
  assert.equal(await form.count(), 1, 'the login page has one form posting to /login');
  assert.equal(await form.locator('input[name=csrf]').count(), 1, 'the login form carries a csrf field');
}

async function logIn(page, base, username, password) {
  await openLogin(page, base);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  return clickAndWait(page, page.locator('form[action="/login"] button[type=submit]'));
}

async function logOut(page) {
  const button = page.getByRole('button', { name: '退出' }).first();
  await clickAndWait(page, button);
  assert.equal(pathOf(page), '/login', 'logging out should land on /login');
}

/** Follows the node link whose text contains `name`, failing with the links that were there. */
async function followNode(page, name) {
  const link = page.locator('a[href^="/nodes/"]', { hasText: name }).first();
  if ((await link.count()) === 0) {
    const seen = await page.locator('a[href^="/nodes/"]').allInnerTexts();
    assert.fail(`no link to ${name} on ${page.url()}; node links there: ${JSON.stringify(seen)}`);
  }
  const res = await clickAndWait(page, link);
  assert.equal(res.status(), 200, `${name}: HTTP status`);
  assert.match(pathOf(page), /^\/nodes\//, `${name}: should be a node page`);
  assert.ok((await bodyText(page)).includes(name), `${name}: its page should name it`);
  return res;
}

// ---------------------------------------------------------------- the test

test('browser: login, home, tree navigation, wrong password, logout', { timeout: 300_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    console.log('notice: chromium not installed; skipping browser test');
    t.skip('chromium not installed');
    return;
  }
  assert.ok(existsSync(LINLI_BIN), `linli binary not found at ${LINLI_BIN} (set LINLI_BIN or run cargo build -p linli)`);
  mkdirSync(SHOTS, { recursive: true });

  const dataDir = mkdtempSync(join(tmpdir(), 'linli-e2e-'));
  let server = null;
  let browser = null;
  const problems = [];
  t.after(async () => {
    // Reverse order of start: browser, server, data dir.
    if (browser) await browser.close();
    if (server) {
      await server.stop();
      const log = server.log().trim();
      if (log) console.log(`server log:\n${log}`);
    }
    rmSync(dataDir, { recursive: true, force: true });
    for (const p of problems) console.log(`warning: ${p}`);
  });

  const demoOut = await buildDemo(dataDir);
  console.log(demoOut.trim());

  server = await startServer(dataDir, await freePort());

  browser = await chromium.launch({
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

  const newPage = async (options) => {
    const context = await browser.newContext(options);
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    watch(page, problems);
    return page;
  };

  // Screenshots are taken before the text checks so a failing page can still be looked at.
  await t.test('grid worker on a phone logs in and sees home', async () => {
    const page = await newPage(PHONE);
    await openLogin(page, server.base);
    await reportOverflow(page, 'login at 360px');
    const res = await logIn(page, server.base, 'gridworker', PASSWORD);
    await shot(page, 'home-gridworker-360.png');
    await reportOverflow(page, 'grid worker home at 360px');
    assert.equal(pathOf(page), '/', 'after login the grid worker should land on /');
    assert.equal(res.status(), 200, 'home: HTTP status');
    const body = await bodyText(page);
    assert.ok(body.includes('首页'), 'home should say 首页');
    assert.ok(body.includes('退出'), 'home should offer 退出');
    if (!body.includes('网格')) console.log("warning: the grid worker's home does not mention 网格");
    await page.context().close();
  });

  await t.test('a wrong password is refused with 401 and a message', async () => {
    const page = await newPage(PHONE);
    const res = await logIn(page, server.base, 'gridworker', 'not-the-password');
    await shot(page, 'login-failed-360.png');
    await reportOverflow(page, 'failed login at 360px');
    assert.equal(res.status(), 401, 'a failed login answers 401');
    assert.equal(pathOf(page), '/login', 'a failed login stays on /login');
    assert.ok((await bodyText(page)).includes('用户名或密码错误'), 'the page says 用户名或密码错误');
    assert.equal(await page.locator('input[name=password]').count(), 1, 'the form is shown again');
    await page.context().close();
  });

  await t.test('admin on a desktop walks the tree down to the community and logs out', async () => {
    const page = await newPage(DESKTOP);
    const res = await logIn(page, server.base, 'admin', PASSWORD);
    await shot(page, 'home-admin-1280.png');
    assert.equal(pathOf(page), '/', 'after login the admin should land on /');
    assert.equal(res.status(), 200, 'home: HTTP status');
    const home = await bodyText(page);
    assert.ok(home.includes('首页') && home.includes('退出'), 'home should say 首页 and offer 退出');

    // The first node link on the home page opens a node page.
    const first = page.locator('a[href^="/nodes/"]').first();
    assert.ok((await first.count()) > 0, 'the admin home should link to at least one node');
    const nodeRes = await clickAndWait(page, first);
    await shot(page, 'node-admin-1280.png');
    assert.equal(nodeRes.status(), 200, 'first node page: HTTP status');

    // From home, down the demo tree by name.
    await page.goto(`${server.base}/`);
    await followNode(page, '香格里拉市');
    await followNode(page, '建塘镇');
    await followNode(page, '里布嘎社区');
    await shot(page, 'node-community-1280.png');
    assert.ok((await bodyText(page)).includes('网格'), 'the community page should list its 网格');
    const grids = await page.locator('a[href^="/nodes/"]', { hasText: '网格' }).count();
    assert.ok(grids > 0, 'the community page should link to its grids');

    await logOut(page);
    // The session is gone: home redirects to the login page again.
    await page.goto(`${server.base}/`);
    assert.equal(pathOf(page), '/login', 'after logout / should redirect to /login');
    await page.context().close();
  });
});
