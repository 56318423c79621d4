// Browser test: every link the app prints, followed as every role (issue 23 items 1 and 5).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test crawl.test.mjs
//
// On the `--small` demo, each of admin, official, staff and the grid worker signs in and follows
// every same-site link from the home page, breadth first, at 1366 px; each page is then looked at
// again at 360 px. A page fails the test when it answers 4xx/5xx, when its visible text holds an
// internal identifier (a snake_case code such as `home_quarantine`, or a stored code word listed
// below, where a Chinese name belongs), when it scrolls sideways at 360 px, or when a script on it
// fails. Downloads (xlsx, png, svg) are fetched, not opened: they must answer 200.
//
// So that a list of 9,000 households does not take all day, each link shape (digits replaced by
// N, the query's values dropped) is followed at most `PER_SHAPE` times, and a role at most
// `MAX_PAGES` pages. Screenshots of each role's first pages land in e2e/screenshots/crawl-*.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logIn, PASSWORD, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const ROLES = ['admin', 'official', 'staff', 'gridworker'];
const PER_SHAPE = 2;
const MAX_PAGES = 400;
const WIDE = { width: 1366, height: 768 };
const NARROW = { width: 360, height: 740 };

// Stored code words that are plain English words (the snake_case ones are caught by shape).
const CODE_WORDS = new Set([
  'pending', 'dispatched', 'accepted', 'resolved', 'closed', 'returned', 'rejected', 'confirmed',
  'submitted', 'approved', 'handled', 'overdue', 'fever', 'draft', 'published', 'active',
  'deceased', 'centralized', 'home', 'none', 'monitoring', 'official', 'staff', 'gridworker',
  'admin', 'system', 'api', 'open', 'medical', 'relatives', 'other', 'work',
]);

/** Where a page may show English on purpose: API documents and the machine-facing pages. */
const ENGLISH_ALLOWED = [/^\/api\//, /^\/openapi/, /^\/open311\//];

/** The demo's login names, which the account pages show as what they are: login names. */
const LOGIN_NAMES = new Set(['admin', 'official', 'staff', 'gridworker']);
const LOGIN_NAME_PAGES = [/^\/users/, /^\/account/];

/**
 * The page's visible text but for what is code on purpose: <code>, <pre>, <kbd> and <samp>
 * (field keys in the template editors, raw JSON behind a toggle) and text being edited in a
 * <textarea>.
 */
function visibleProse(page) {
  return page.evaluate(() => {
    const code = [...document.querySelectorAll('code, pre, kbd, samp, textarea')];
    const before = code.map((e) => e.style.display);
    for (const e of code) e.style.display = 'none';
    const text = document.body.innerText;
    code.forEach((e, i) => { e.style.display = before[i]; });
    return text;
  });
}

/** Links not to follow: leaving, machine endpoints, and files (fetched instead). */
const isDownload = (path) => /\.(xlsx|png|svg|pdf|csv|json|xml)$/.test(path) || /\/qr(\.|$|\/)/.test(path);
const skip = (path) => path === '/logout' || path.startsWith('/api/') || path.startsWith('/static/');

/** The shape of a link: digits as N, query values dropped. */
function shapeOf(url) {
  const u = new URL(url);
  const path = u.pathname.replace(/\d+/g, 'N');
  const keys = [...new Set([...u.searchParams.keys()])].sort().join('&');
  return keys ? `${path}?${keys}` : path;
}

/** The identifiers in visible text that should have been Chinese names. */
function identifiersIn(text) {
  const found = new Set();
  for (const line of text.split('\n')) {
    // URLs, e-mail addresses and file names are what they are.
    const clean = line
      .replace(/https?:\/\/\S+/g, ' ')
      .replace(/\S+@\S+/g, ' ')
      .replace(/\S+\.(xlsx|csv|png|svg|json)\b/g, ' ');
    for (const m of clean.matchAll(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g)) found.add(m[0]);
    for (const m of clean.matchAll(/\b[a-z]{3,}\b/g)) {
      if (CODE_WORDS.has(m[0])) found.add(m[0]);
    }
  }
  return [...found];
}

test('browser: every link the app prints answers, in Chinese, without sideways scrolling', { timeout: 1_200_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const stack = await startStack(t, { dataPrefix: 'linli-e2e-crawl-' });
  const base = stack.server.base;
  const failures = [];
  const summary = [];

  for (const role of ROLES) {
    const page = await stack.newPage({ viewport: WIDE, locale: 'zh-CN' });
    await logIn(page, base, role, PASSWORD);
    const seen = new Set();
    const shapes = new Map();
    const queue = [`${base}/`];
    let pages = 0;
    let downloads = 0;
    while (queue.length > 0 && pages < MAX_PAGES) {
      const url = queue.shift();
      const path = new URL(url).pathname;
      if (isDownload(path)) {
        const res = await page.request.get(url);
        downloads += 1;
        if (res.status() !== 200) failures.push(`${role}: ${res.status()} for download ${url}`);
        continue;
      }
      await page.setViewportSize(WIDE);
      const res = await page.goto(url, { waitUntil: 'load' });
      pages += 1;
      const where = `${role} ${new URL(page.url()).pathname}${new URL(page.url()).search}`;
      if (!res || res.status() >= 400) {
        failures.push(`${where}: answered ${res ? res.status() : 'nothing'} (linked as ${url})`);
        continue;
      }
      if (pages <= 3) await shot(page, `crawl-${role}-${pages}.png`);
      const finalPath = new URL(page.url()).pathname;
      if (finalPath === '/audit' && !new URL(page.url()).search) await shot(page, `crawl-${role}-audit.png`);
      if (!ENGLISH_ALLOWED.some((re) => re.test(finalPath))) {
        const ids = identifiersIn(await visibleProse(page)).filter(
          (id) => !(LOGIN_NAMES.has(id) && LOGIN_NAME_PAGES.some((re) => re.test(finalPath))),
        );
        if (ids.length > 0) failures.push(`${where}: internal identifiers shown: ${ids.join(', ')}`);
      }
      await page.setViewportSize(NARROW);
      const { scroll, client } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      if (scroll > client + 1) failures.push(`${where}: ${scroll}px wide at ${client}px`);

      const links = await page.locator('a[href]').evaluateAll((els) => els.map((a) => a.href));
      for (const link of links) {
        let u;
        try {
          u = new URL(link);
        } catch {
          continue;
        }
        if (u.origin !== base) continue;
        u.hash = '';
        const next = u.toString();
        if (skip(u.pathname) || seen.has(next)) continue;
        seen.add(next);
        const shape = shapeOf(next);
        const n = shapes.get(shape) ?? 0;
        if (n >= PER_SHAPE) continue;
        shapes.set(shape, n + 1);
        queue.push(next);
      }
    }
    summary.push(`${role}: ${pages} pages, ${downloads} downloads, ${shapes.size} link shapes`);
    await page.context().close();
  }

  console.log(summary.join('\n'));
  for (const p of stack.problems) failures.push(p);
  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
});
