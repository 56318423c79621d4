// Browser test: following a quarantine day by day on a phone (issue 18 items 2 and 3).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli npm test
//
// The official republishes the 9th edition from today and declares 武汉市洪山区 (420111)
// high-risk (through the API, as a district system would); staff screen two returnees into
// 第01网格 through the API. Then, on a 360×740 phone: the grid worker opens 正在观察 from the
// dashboard, enters both temperatures on the round page (入户测温, one 38.1 ℃ with a cough),
// makes 次仁's self check-in code and prints its card; 次仁 opens the link with no login and
// checks in; the worker reads 次仁's timeline, which tells who entered what.
//
// Screenshots land in e2e/screenshots/observation-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, chinaToday, clickAndWait, logIn, logOut, optionValueContaining, PASSWORD, pathOf, PHONE, quarantineFromToday, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const RESIDENTS = ['次仁', '拉姆'];

test('browser: a grid worker follows quarantines on a phone; a resident checks in by link', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-observations-' });
  const base = server.base;
  let selfLink = null;
  let personId = null;

  await t.test('an official puts arrivals from 420111 under quarantine from today', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'official', PASSWORD);
    await quarantineFromToday(page, base);
    await logOut(page);
  });

  await t.test('staff screen two returnees into 第01网格', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await page.goto(`${base}/persons/new`);
    const grid = Number(await optionValueContaining(page.locator('select[name=node_id]'), '第01网格'));
    for (const name of RESIDENTS) {
      const r = await page.request.post(`${base}/api/v1/arrivals`, {
        data: {
          person: { node_id: grid, name, address: '2栋1单元302室' },
          origin_code: '420111',
          arrived_on: chinaToday(),
        },
      });
      assert.equal(r.status(), 201, await r.text());
      const body = await r.json();
      assert.equal(body.classification.measure, 'centralized_quarantine', JSON.stringify(body));
      if (name === RESIDENTS[0]) personId = body.person_id;
    }
    await logOut(page);
  });

  await t.test('the grid worker enters a round and makes a self check-in code', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'gridworker', PASSWORD);
    await clickAndWait(page, page.locator('header nav a', { hasText: '防疫' }).first());
    await clickAndWait(page, page.locator('main a', { hasText: '正在观察' }).first());
    assert.equal(pathOf(page), '/epidemic/observations');
    let text = await bodyText(page);
    for (const name of RESIDENTS) assert.ok(text.includes(name), `${name} is listed`);
    assert.ok(text.includes('今日未报齐'), 'nobody has reported yet');
    await shot(page, 'observation-list-360.png');
    await reportOverflow(page, 'observations at 360px');

    await clickAndWait(page, page.locator('#round-link'));
    assert.equal(pathOf(page), '/epidemic/rounds');
    const rows = page.locator('ul.round-rows li');
    assert.equal(await rows.count(), 2, 'one row per person');
    const row = (name) => page.locator('ul.round-rows li', { hasText: name });
    await row(RESIDENTS[0]).locator('input[name^=t_]').fill('36.6');
    await row(RESIDENTS[1]).locator('input[name^=t_]').fill('38.1');
    await row(RESIDENTS[1]).locator('summary').click();
    await row(RESIDENTS[1]).locator('input[value=咳嗽]').check();
    await shot(page, 'observation-round-360.png');
    await reportOverflow(page, 'round page at 360px');
    const res = await clickAndWait(page, page.locator('form.round button[type=submit]'));
    assert.equal(res.status(), 200);
    const saved = await page.locator('#saved').innerText();
    assert.ok(saved.startsWith('已保存 2 人的打卡（网格员代录），其中 1 人发热'), saved);
    await shot(page, 'observation-round-saved-360.png');

    await page.goto(`${base}/epidemic/observations`);
    await clickAndWait(
      page,
      page.locator('ul.observations li', { hasText: RESIDENTS[0] }).locator('a', { hasText: '自助打卡码' }),
    );
    assert.match(pathOf(page), /^\/epidemic\/observations\/\d+\/self-link$/);
    await clickAndWait(page, page.locator('main form button', { hasText: '生成打卡码' }));
    selfLink = (await page.locator('#link').innerText()).trim();
    assert.match(selfLink, /\/o\/[2-9A-HJKMNP-Z]{10}$/, selfLink);
    assert.equal(await page.locator('#qr svg').count(), 1, 'the link has a QR code');
    await shot(page, 'observation-self-link-360.png');
    await reportOverflow(page, 'self link page at 360px');
    await clickAndWait(page, page.locator('main a', { hasText: '打印打卡卡片' }));
    text = await bodyText(page);
    assert.ok(text.includes(`${RESIDENTS[0][0]}*：请每天扫码报体温`), text);
    await shot(page, 'observation-self-card-360.png');
    await page.goto(`${base}/epidemic`);
    await logOut(page);
  });

  await t.test('the resident checks in through the link, without logging in', async () => {
    assert.ok(selfLink, 'a self check-in link was made');
    const page = await newPage(PHONE);
    const path = new URL(selfLink).pathname;
    const res = await page.goto(`${base}${path}`);
    assert.equal(res.status(), 200);
    let text = await bodyText(page);
    assert.ok(text.includes(`${RESIDENTS[0][0]}*`) && !text.includes(RESIDENTS[0]), 'only the masked name');
    assert.ok(text.includes('第 1 / 7 天'), text);
    assert.equal((await page.locator('#today').innerText()).trim(), '今日已打卡 1 次，应打卡 2 次');
    await shot(page, 'observation-self-checkin-360.png');
    await reportOverflow(page, 'self check-in at 360px');
    await page.fill('input[name=temperature]', '36.4');
    const sent = await clickAndWait(page, page.locator('form button[type=submit]'));
    assert.equal(sent.status(), 200);
    text = await bodyText(page);
    assert.ok(text.includes('已收到：体温 36.4℃'), text);
    assert.equal((await page.locator('#today').innerText()).trim(), '今日已打卡 2 次，应打卡 2 次 ✓');
    await shot(page, 'observation-self-checkin-done-360.png');
  });

  await t.test("the worker reads the resident's timeline", async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'gridworker', PASSWORD);
    await page.goto(`${base}/persons/${personId}`);
    await clickAndWait(page, page.locator('main a', { hasText: '防疫记录' }));
    assert.equal(pathOf(page), `/persons/${personId}/epidemic`);
    const checkins = await page.locator('li[data-kind=checkin]').allInnerTexts();
    assert.equal(checkins.length, 2, checkins.join(' | '));
    assert.ok(checkins[0].includes('体温 36.4℃（本人打卡）'), checkins[0]);
    assert.ok(checkins[1].includes('体温 36.6℃（网格员代录 格桑）'), checkins[1]);
    const arrival = await page.locator('li[data-kind=arrival]').allInnerTexts();
    assert.equal(arrival.length, 1);
    assert.ok(arrival[0].includes('从湖北省武汉市洪山区抵达'), `the place by name: ${arrival[0]}`);
    await shot(page, 'observation-timeline-360.png');
    await reportOverflow(page, 'timeline at 360px');
    await logOut(page);
  });
});
