// Browser test: the demo served as of a day of the outbreak (`LINLI_AS_OF=2020-02-10`).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test as_of.test.mjs
//
// `linli demo --small` has history from 2020-01-20 to 2020-02-12 (and on until the last release
// in February), so 2020-02-10 is a day of it. Served as of that day, every page carries the banner
// 「演示数据 · 按 2020-02-10 显示」 (the login page too), and the pages a newcomer opens first show
// that day's figures, not zeros: the 防疫 dashboard, the daily report of that date (the report
// page's default date), the 正在观察 list, whose open-alert badges count that day's open alerts,
// and the requests, stores, businesses and beds. Printed sheets (the report's print view, a
// declaration poster) carry the banner as well. On a 360 px phone the banner does not overflow.
//
// Screenshots land in e2e/screenshots/as-of-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, PASSWORD, pathOf, PHONE, DESKTOP, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const DAY = '2020-02-10';
const BANNER = `演示数据 · 按 ${DAY} 显示`;

// The server inherits the environment (helpers.mjs), so it runs as of DAY; `linli demo` ignores it.
process.env.LINLI_AS_OF = DAY;

/** The banner's text on the current page (fails when there is none). */
async function banner(page) {
  const b = page.locator('.as-of');
  assert.equal(await b.count(), 1, `one as-of banner on ${pathOf(page)}`);
  return (await b.innerText()).trim();
}

/** How many links on the page's main part lead to an item whose path matches `re`. */
async function itemLinks(page, re) {
  const hrefs = await page.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return new Set(hrefs.filter((h) => re.test(h.split('?')[0]))).size;
}

/** The number shown in the dashboard tile labelled `label`. */
async function tile(page, label) {
  const li = page.locator('ul.epi-tiles li', { has: page.locator('.label', { hasText: label }) }).first();
  return Number((await li.locator('.n').first().innerText()).trim());
}

test('browser: the demo served as of 2020-02-10 shows that day, with a banner on every page', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-as-of-' });
  const base = server.base;
  assert.match(server.log(), /as of 2020-02-10/, 'the server says which day it shows');

  for (const [device, size] of [[PHONE, 360], [DESKTOP, 1280]]) {
    await t.test(`staff at ${size} px: dashboard, report and observations of ${DAY}`, async () => {
      const page = await newPage(device);
      await page.goto(`${base}/login`);
      assert.equal(await banner(page), BANNER, 'the login page shows the banner');
      const res = await logIn(page, base, 'staff', PASSWORD);
      assert.equal(res.status(), 200, 'staff login: HTTP status');
      assert.equal(await banner(page), BANNER, 'the home page shows the banner');

      const dash = await page.goto(`${base}/epidemic`);
      assert.equal(dash.status(), 200);
      assert.equal(await banner(page), BANNER);
      assert.ok((await bodyText(page)).includes(`${DAY}（北京时间）`), 'the dashboard is of that day');
      for (const label of ['今日来返', '正在观察', '预警待处理']) {
        assert.ok((await tile(page, label)) > 0, `dashboard ${label} > 0 on ${DAY}`);
      }
      await shot(page, `as-of-epidemic-${size}.png`);
      await reportOverflow(page, `dashboard as of ${DAY} at ${size}px`);
      if (size === 360) {
        const box = await page.locator('.as-of').boundingBox();
        assert.ok(box && box.width <= 360, `the banner fits a 360 px phone (${box && box.width}px)`);
      }

      // The report page opens on that day by default, with that day's figures.
      const rep = await page.goto(`${base}/reports`);
      assert.equal(rep.status(), 200);
      assert.equal(await banner(page), BANNER);
      assert.equal(await page.inputValue('input[name=date]'), DAY, 'the report date defaults to that day');
      const values = await page.locator('table td.n').allInnerTexts();
      const numbers = values.map((v) => Number(v.trim())).filter((n) => Number.isFinite(n));
      assert.ok(numbers.some((n) => n > 0), `the report of ${DAY} has non-zero figures: ${values.join(' ')}`);
      await shot(page, `as-of-report-${size}.png`);
      // Its print view (and every other printed sheet) says which day it shows, on paper too.
      await clickAndWait(page, page.locator('a.pill', { hasText: /^打印$/ }));
      assert.equal(pathOf(page), '/reports/print');
      assert.equal(await banner(page), BANNER, 'the report print view shows the banner');

      // The observations list: who was under observation that day (released later on).
      const obs = await page.goto(`${base}/epidemic/observations`);
      assert.equal(obs.status(), 200);
      assert.equal(await banner(page), BANNER);
      const summary = await page.locator('#summary').innerText();
      assert.ok(summary.startsWith(DAY), summary);
      const total = Number((summary.match(/共 (\d+) 人/) || [])[1]);
      assert.ok(total > 0, `people under observation on ${DAY}: ${summary}`);
      await reportOverflow(page, `observations as of ${DAY} at ${size}px`);

      // A person's open-alert badge counts the alerts open that day, as the alert list does.
      const badged = page.locator('ul.rows li', { has: page.locator('a.badge.fever') }).first();
      assert.equal(await badged.count(), 1, `someone had an open alert on ${DAY}`);
      const name = (await badged.locator('a').first().innerText()).trim();
      const badge = Number((await badged.locator('a.badge.fever').innerText()).replace(/\D/g, ''));
      await page.goto(`${base}/epidemic/alerts?q=${encodeURIComponent(name)}`);
      const listed = await page.locator('#summary').innerText();
      assert.ok(listed.includes(`共 ${badge} 条`), `${name}: badge ${badge}, the alert list: ${listed}`);
      // The work around the outbreak shows too: residents' requests, the stores, the
      // businesses (each list links its items), and the quarantine beds on the dashboard.
      for (const [path, item, least] of [
        ['/requests', /^\/requests\/\d+$/, 1],
        ['/supplies', /^\/supplies\/sites\/\d+$/, 2],
        ['/enterprises', /^\/enterprises\/\d+$/, 5],
      ]) {
        const r = await page.goto(`${base}${path}`);
        assert.equal(r.status(), 200, path);
        assert.equal(await banner(page), BANNER);
        const n = await itemLinks(page, item);
        assert.ok(n >= least, `${path} as of ${DAY} lists ${n} items (at least ${least})`);
      }
      await page.goto(`${base}/epidemic`);
      const beds = (await page.locator('#beds-tile').innerText()).replace(/\s+/g, ' ');
      const bedsTotal = Number((beds.match(/共 (\d+)/) || [])[1]);
      assert.ok(bedsTotal > 0, `quarantine beds serve the community: ${beds}`);
    });
  }

  await t.test('printed sheets carry the banner', async () => {
    const page = await newPage(DESKTOP);
    await logIn(page, base, 'staff', PASSWORD);
    await page.goto(`${base}/epidemic/declaration-links`);
    // A new declaration link, then its poster.
    const form = page.locator('form[action="/epidemic/declaration-links"]');
    await form.locator('select[name=node_id]').selectOption({ index: 1 });
    await clickAndWait(page, form.locator('button[type=submit]'));
    const print = page.locator('a[href$="/print"]').first();
    assert.equal(await print.count(), 1, 'a declaration link to print');
    await clickAndWait(page, print);
    assert.equal(await banner(page), BANNER, `the poster ${pathOf(page)} shows the banner`);
  });

  await t.test('the error page carries the banner too', async () => {
    const page = await newPage(PHONE);
    await page.goto(`${base}/no-such-page`);
    assert.equal(await banner(page), BANNER, 'the error page shows the banner');
  });
});
