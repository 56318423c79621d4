// Browser test: the shell on a phone and at a desk, and a grid worker's home (issue 23 item 2).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test shell.test.mjs
//
// Served as of 2020-02-10 (a day of the small demo's outbreak) so the grid worker has a day's
// work. At 360 px the header takes at most 56 px for every role, every section stays reachable
// from it (the row scrolls sideways; the page itself does not), and the grid worker's home is
// the day's to-do: its counts are those of the lists they link to. At 1366 px a list uses the
// screen's width and its table is dense (zebra rows, the header kept in view).
//
// Screenshots land in e2e/screenshots/shell-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clickAndWait, logIn, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

process.env.LINLI_AS_OF = '2020-02-10';

const WIDE = { viewport: { width: 1366, height: 768 }, deviceScaleFactor: 1, locale: 'zh-CN' };

/** The sections each role's header offers, in order. */
const SECTIONS = {
  admin: ['辖区', '居民', '防疫', '报表', '物资', '企业', '诉求', '志愿', '公开', '账号', '审计', '我的'],
  gridworker: ['辖区', '居民', '防疫', '报表', '物资', '企业', '诉求', '志愿', '公开', '我的'],
};

/** Fails when the page scrolls sideways. */
async function noSidewaysScroll(page, where) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client + 1, `${where}: ${scroll}px wide at ${client}px`);
}

test('browser: the shell at 360 px and 1366 px, and a grid worker\'s to-do', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-shell-' });
  const base = server.base;

  for (const role of ['admin', 'gridworker']) {
    await t.test(`${role} at 360 px: a header of at most 56 px with every section`, async () => {
      const page = await newPage(PHONE);
      const res = await logIn(page, base, role, PASSWORD);
      assert.equal(res.status(), 200);
      const header = await page.locator('header.top').boundingBox();
      assert.ok(header && header.height <= 56, `${role}: the header is ${header && header.height}px high`);
      const links = (await page.locator('header nav a').allInnerTexts()).map((s) => s.trim());
      assert.deepEqual(links, SECTIONS[role]);
      await noSidewaysScroll(page, `${role} home`);
      // The last section, off the screen at first, is one tap away: the row scrolls to it.
      await clickAndWait(page, page.locator('header nav a', { hasText: '我的' }));
      assert.equal(pathOf(page), '/account');
      const again = await page.locator('header.top').boundingBox();
      assert.ok(again.height <= 56, `${role} /account: the header is ${again.height}px high`);
      // On its page the section is in view and marked, though it is last in the row.
      const nav = await page.locator('header nav').boundingBox();
      const on = await page.locator('header nav a.on').boundingBox();
      assert.equal((await page.locator('header nav a.on').innerText()).trim(), '我的');
      assert.ok(on.x >= nav.x - 1 && on.x + on.width <= nav.x + nav.width + 1, `我的 in view: ${JSON.stringify({ on, nav })}`);
      await shot(page, `shell-header-${role}-360.png`);
      await page.context().close();
    });
  }

  await t.test('the grid worker\'s home at 360 px is the day\'s to-do', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'gridworker', PASSWORD);
    assert.equal(pathOf(page), '/');
    assert.equal((await page.locator('h1').innerText()).trim(), '今日待办');
    const lines = page.locator('li.todo-line');
    assert.deepEqual(
      await lines.evaluateAll((els) => els.map((e) => e.dataset.todo)),
      ['alerts', 'checkins', 'requests', 'releases'],
    );
    const count = async (key) => Number((await page.locator(`li[data-todo=${key}] .todo-head .n`).innerText()).trim());
    const alerts = await count('alerts');
    const checkins = await count('checkins');
    assert.ok(alerts + checkins > 0, `a day of the outbreak has work: ${alerts} alerts, ${checkins} check-ins`);
    await shot(page, 'shell-home-gridworker-360.png');
    await noSidewaysScroll(page, 'grid worker home');

    // The count on the home page is the count on the list it leads to.
    await clickAndWait(page, page.locator('li[data-todo=alerts] a.todo-head'));
    assert.equal(pathOf(page), '/epidemic/alerts');
    const summary = await page.locator('#summary').innerText();
    assert.ok(summary.includes(`共 ${alerts} 条`), `home says ${alerts}, the list: ${summary}`);
    await page.goBack();
    await clickAndWait(page, page.locator('li[data-todo=checkins] a.todo-head'));
    const listed = await page.locator('#summary').innerText();
    assert.ok(listed.includes(`共 ${checkins} 人`), `home says ${checkins}, the list: ${listed}`);
    await page.context().close();
  });

  await t.test('a list at 1366 px uses the screen\'s width, its table dense', async () => {
    const page = await newPage(WIDE);
    await logIn(page, base, 'admin', PASSWORD);
    await page.goto(`${base}/users`);
    const main = await page.locator('main').boundingBox();
    assert.ok(main.width >= 1300, `the list is ${main.width}px wide at 1366 px`);
    const rows = page.locator('table tbody tr');
    assert.ok((await rows.count()) >= 2, 'the accounts table has rows');
    const bg = (i) => rows.nth(i).locator('td').first().evaluate((td) => getComputedStyle(td).backgroundColor);
    assert.notEqual(await bg(0), await bg(1), 'zebra rows');
    const th = page.locator('table thead th').first();
    assert.equal(await th.evaluate((e) => getComputedStyle(e).position), 'sticky');
    const pad = await page.locator('table tbody td').first().evaluate((td) => parseFloat(getComputedStyle(td).paddingTop));
    assert.ok(pad <= 4, `dense cells: ${pad}px padding`);
    await shot(page, 'shell-list-1366.png');
    // A list of rows under filters takes the width too.
    await page.goto(`${base}/epidemic/observations`);
    const obs = await page.locator('main').boundingBox();
    assert.ok(obs.width >= 1300, `正在观察 is ${obs.width}px wide at 1366 px`);
    await shot(page, 'shell-observations-1366.png');
    // Forms keep their reading measure (the arrival form has a person search above it).
    for (const path of ['/persons/new', '/epidemic/arrivals/new']) {
      await page.goto(`${base}${path}`);
      const form = await page.locator('main').boundingBox();
      assert.ok(form.width <= 960, `${path} stays ${form.width}px wide`);
    }
    // A phone list is unchanged: rows, within the screen.
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${base}/users`);
    await noSidewaysScroll(page, '/users at 360 px');
    await reportOverflow(page, '/users at 360 px');
    await page.context().close();
  });
});
