// Browser test: a building's rooms on a phone (issue 19 items 4 and 6), as a community worker.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test rooms.test.mjs
//
// staff (bound to 里布嘎社区) walks the tree down to a building, opens 房屋与住户 (every room,
// the empty ones too), opens a lived-in room, adds a member to its household (the address comes
// with the household), and finds the room with one more resident; then prints the
// door-to-door list. Screenshots land in e2e/screenshots/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

/** The number after `label` in the page's text (`在住 3 人` → 3). */
function numberAfter(text, label) {
  const m = text.match(new RegExp(`${label}\\s*(\\d+)`));
  assert.ok(m, `「${label}」 in: ${text}`);
  return Number(m[1]);
}

test('browser: building → room → add a household member, on a phone', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-rooms-' });
  const base = server.base;
  const page = await newPage(PHONE);
  const res = await logIn(page, base, 'staff', PASSWORD);
  assert.equal(res.status(), 200);

  // Down the tree from the community to its first building, by the pages' own links.
  await page.goto(`${base}/`);
  await clickAndWait(page, page.locator('main a[href^="/nodes/"]').first());
  for (let depth = 0; depth < 6; depth += 1) {
    const text = await bodyText(page);
    if (/楼栋\s*$/.test((await page.locator('h1').innerText()).trim())) break;
    const rows = page.locator('main ul.rows li');
    const building = rows.filter({ hasText: '楼栋' }).locator('a[href^="/nodes/"]');
    const next = (await building.count()) > 0 ? building.first() : rows.locator('a[href^="/nodes/"]').first();
    assert.ok((await next.count()) > 0, `a child to open in: ${text}`);
    await clickAndWait(page, next);
  }
  const buildingName = (await page.locator('h1').innerText()).replace('楼栋', '').trim();
  assert.match(buildingName, /栋$/, 'a building is reached');
  await shot(page, 'rooms-1-building.png');

  // Its rooms: a summary that adds up, lived-in and empty rooms both listed.
  await clickAndWait(page, page.locator('main a', { hasText: '房屋与住户' }));
  assert.match(pathOf(page), /^\/nodes\/\d+\/rooms$/);
  await reportOverflow(page, 'rooms list');
  await shot(page, 'rooms-2-list.png');
  let text = await bodyText(page);
  const total = numberAfter(text, '共');
  const lived = numberAfter(text, '有人居住');
  const empty = numberAfter(text, '空置');
  assert.equal(lived + empty, total, text);
  assert.ok(lived > 0, 'the demo building has residents');
  assert.equal(await page.locator('main ul.rooms li').count(), total, 'every room is listed');

  // A lived-in room, its household, and 添加同户成员.
  const room = page.locator('main ul.rooms li:not(.empty-room) a[href^="/dwellings/"]').first();
  const address = (await room.innerText()).trim();
  await clickAndWait(page, room);
  const roomPath = pathOf(page);
  text = await bodyText(page);
  const before = numberAfter(text, '在住');
  assert.ok(text.includes(address), `the room page names ${address}: ${text}`);
  await shot(page, 'rooms-3-room.png');
  await clickAndWait(page, page.locator('main a', { hasText: '添加同户成员' }).first());
  text = await bodyText(page);
  assert.ok(text.includes(`加入住户：${address}`) || text.includes(`加入住户： ${address}`), text);
  assert.equal(await page.locator('main input[name=address]').count(), 0, 'no address to type again');
  await page.fill('main input[name=name]', '卓玛');
  await page.selectOption('main select[name=relation]', 'daughter');
  await shot(page, 'rooms-4-add-member.png');
  const saved = await clickAndWait(page, page.locator('main form button[type=submit]', { hasText: '保存' }));
  assert.equal(saved.status(), 200);
  assert.match(pathOf(page), /^\/persons\/\d+$/, 'lands on the new person');
  text = await bodyText(page);
  assert.ok(text.includes(address), `the member lives at ${address}: ${text}`);

  // Back in the room: one more resident, named.
  await page.goto(`${base}${roomPath}`);
  text = await bodyText(page);
  assert.equal(numberAfter(text, '在住'), before + 1, text);
  assert.ok(text.includes('卓玛'));
  await shot(page, 'rooms-5-room-after.png');

  // The door-to-door list: one line per room.
  await page.goto(`${base}${roomPath}`);
  await clickAndWait(page, page.locator('nav.crumbs a', { hasText: '房屋' }));
  await clickAndWait(page, page.locator('main a', { hasText: '打印入户排查表' }));
  assert.equal(await page.locator('table.doors tbody tr').count(), total);
  await shot(page, 'rooms-6-doors.png');
});
