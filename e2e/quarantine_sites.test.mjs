// Browser test: centralised quarantine sites as records (issue 18 item 9).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test quarantine_sites.test.mjs
//
// The official republishes the 9th edition from today and declares 武汉市洪山区 (420111)
// high-risk (through the API). Then, on a 360×740 phone: staff add 社区集中隔离点 to 里布嘎社区
// and its rooms in bulk (2 floors × 2 rooms, 1 bed each); screen a returnee from 420111 with
// the 三问一测 form, whose result names the room; the dashboard tile shows the free beds and
// leads to the list and the site page, where the returnee is in 201. A grid worker sees the site
// with the person of their own grid named.
//
// Screenshots land in e2e/screenshots/sites-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, chinaToday, clickAndWait, logIn, logOut, optionValueContaining, PASSWORD, pathOf, PHONE, quarantineFromToday, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const RETURNEE = '扎西';

test('browser: staff set up a quarantine site; an arrival gets a room; the dashboard counts beds', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-sites-' });
  const base = server.base;

  await t.test('an official puts arrivals from 420111 under centralised quarantine from today', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'official', PASSWORD);
    await quarantineFromToday(page, base);
    await logOut(page);
  });

  await t.test('staff add a site and its rooms on a phone', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await clickAndWait(page, page.locator('header nav a', { hasText: '防疫' }).first());
    await clickAndWait(page, page.locator('main a.pill', { hasText: '集中隔离点' }));
    assert.equal(pathOf(page), '/epidemic/sites');
    await clickAndWait(page, page.locator('#new-site'));
    assert.equal(pathOf(page), '/epidemic/sites/new');
    const node = await optionValueContaining(page.locator('select[name=node_id]'), '里布嘎社区');
    await page.selectOption('select[name=node_id]', node);
    await page.fill('input[name=name]', '社区集中隔离点');
    await page.fill('input[name=address]', '建塘镇金龙街 8 号');
    await page.fill('input[name=phone]', '0887-8221234');
    await shot(page, 'sites-new-360.png');
    await reportOverflow(page, 'new site at 360px');
    await clickAndWait(page, page.locator('main form button[type=submit]'));
    assert.match(pathOf(page), /^\/epidemic\/sites\/\d+$/);
    assert.ok((await bodyText(page)).includes('已添加隔离点'));

    // Rooms in bulk: floors 2–3, rooms 01–02, 1 bed each.
    const form = page.locator('#add-rooms form');
    await form.locator('input[name=floor_from]').fill('2');
    await form.locator('input[name=floor_to]').fill('3');
    await form.locator('input[name=room_from]').fill('1');
    await form.locator('input[name=room_to]').fill('2');
    await form.locator('input[name=beds]').fill('1');
    await shot(page, 'sites-rooms-form-360.png');
    await clickAndWait(page, form.locator('button[type=submit]'));
    const text = await bodyText(page);
    assert.ok(text.includes('已添加房间'), text);
    assert.equal((await page.locator('#beds-free').innerText()).trim(), '4');
    assert.equal(await page.locator('li[data-room]').count(), 4);
    await shot(page, 'sites-rooms-360.png');
    await reportOverflow(page, 'site page at 360px');
    await logOut(page);
  });

  await t.test('a returnee screened with the form is given a room', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await page.goto(`${base}/epidemic/arrivals/new`);
    const grid = await optionValueContaining(page.locator('select[name=node_id]'), '第01网格');
    await page.selectOption('select[name=node_id]', grid);
    await page.fill('input[name=name]', RETURNEE);
    await page.fill('input[name=origin_code]', '420111');
    await page.fill('input[name=arrived_on]', chinaToday());
    await page.fill('input[name=temperature]', '36.5');
    await clickAndWait(page, page.locator('button', { hasText: '登记并判定' }));
    assert.match(pathOf(page), /^\/epidemic\/arrivals\/\d+$/);
    const room = (await page.locator('#room').innerText()).trim();
    assert.ok(room.startsWith('集中隔离房间：社区集中隔离点 2 楼 201 室'), room);
    await shot(page, 'sites-arrival-room-360.png');
    await reportOverflow(page, 'arrival result at 360px');
    await logOut(page);
  });

  await t.test('the dashboard tile shows the free beds and leads to the site', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await page.goto(`${base}/epidemic`);
    const tile = (await page.locator('#beds-tile').innerText()).replace(/\s+/g, ' ');
    // The community's 4 beds, one taken, beside the street's site that serves it too.
    const [, free, total] = tile.match(/隔离床位 空闲 (\d+) \/ 共 (\d+)/) ?? [];
    assert.ok(Number(total) >= 4 && Number(total) - Number(free) === 1, tile);
    await shot(page, 'sites-dashboard-360.png');
    await clickAndWait(page, page.locator('#beds-tile'));
    assert.equal(pathOf(page), '/epidemic/sites');
    assert.ok((await bodyText(page)).includes('空闲 3 / 共 4 床'));
    await shot(page, 'sites-list-360.png');
    await reportOverflow(page, 'site list at 360px');
    await clickAndWait(page, page.locator('ul.sites a', { hasText: '社区集中隔离点' }));
    const room = await page.locator('li[data-room="201"]').innerText();
    assert.ok(room.includes(RETURNEE), room);
    assert.ok(room.includes('退房') && room.includes('换房'), 'staff run the site');
    await shot(page, 'sites-occupied-360.png');
    // A bed more in 202 counts at once; no bed in 201, where the returnee sleeps, is refused.
    const r202 = page.locator('li[data-room="202"] form.beds');
    await r202.locator('input[name=beds]').fill('2');
    await clickAndWait(page, r202.locator('button'));
    assert.ok((await bodyText(page)).includes('已修改床位数'));
    assert.equal((await page.locator('#beds-free').innerText()).trim(), '4');
    const r201 = page.locator('li[data-room="201"] form.beds');
    await r201.locator('input[name=beds]').fill('0');
    const res = await clickAndWait(page, r201.locator('button'));
    assert.equal(res.status(), 422);
    assert.ok((await page.locator('main .error').innerText()).includes('每间床位数应为 1–'));
    assert.equal((await page.locator('#beds-free').innerText()).trim(), '4', 'nothing changed');
    await shot(page, 'sites-beds-360.png');
    await reportOverflow(page, 'site page with bed forms at 360px');
    await logOut(page);
  });

  await t.test('the grid worker sees the site and their own returnee, and runs nothing', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'gridworker', PASSWORD);
    await page.goto(`${base}/epidemic/sites`);
    await clickAndWait(page, page.locator('ul.sites a', { hasText: '社区集中隔离点' }));
    const room = await page.locator('li[data-room="201"]').innerText();
    assert.ok(room.includes(RETURNEE), room);
    assert.ok(!room.includes('退房'), 'a grid worker checks nobody out');
    await shot(page, 'sites-gridworker-360.png');
    await logOut(page);
  });
});
