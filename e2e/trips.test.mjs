// Browser test: 外出登记 on a phone — local work with its daily log, and an organised trip.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli npm test
//
// gridworker (格桑, bound to 第01网格) opens 防疫 › 卡点与通行证 › 外出登记 on a 360×740 phone,
// registers a resident's 市内务工 for a week (first without its last day: refused, the form
// kept), finds the trip under 今日待记录 and logs 36.6 ℃ in its row, opens the trip page, then
// registers 集体出行 for two residents of the grid ticked on the group page.
//
// Screenshots land in e2e/screenshots/trip-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, chinaToday, clickAndWait, logIn, logOut, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const RESIDENTS = ['和建国', '李秀英', '王芳'];

const submit = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

/** `YYYY-MM-DD`, `days` after today in China. */
const later = (days) => {
  const d = new Date(`${chinaToday()}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
};

test('browser: a grid worker registers local work, logs its day and an organised trip', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-trips-' });
  const base = server.base;
  const page = await newPage(PHONE);
  await logIn(page, base, 'gridworker', PASSWORD);

  await clickAndWait(page, page.locator('header nav a', { hasText: '防疫' }).first());
  await clickAndWait(page, page.locator('main a', { hasText: '卡点与通行证' }).first());
  await clickAndWait(page, page.locator('main a.pill', { hasText: '外出登记' }).first());
  assert.equal(pathOf(page), '/trips');

  // The group page lists the grid's residents (three registered here through the API).
  await clickAndWait(page, page.locator('#group-link'));
  assert.equal(pathOf(page), '/trips/groups/new');
  const nodeId = Number(await page.locator('form.filters select[name=node_id]').inputValue());
  for (const name of RESIDENTS) {
    const made = await page.request.post(`${base}/api/v1/persons`, { data: { node_id: nodeId, name } });
    assert.equal(made.status(), 201, await made.text());
  }
  await page.reload();
  // (The demo's own residents of the grid are listed too.)
  const names = (await page.locator('ul.group-members label').allInnerTexts()).map((n) => n.trim());
  for (const name of RESIDENTS) assert.ok(names.includes(name), `${name} among the grid's residents to tick`);
  const worker = RESIDENTS[0];

  // 市内务工 without its last day is refused, the form kept; with it, registered.
  await page.goto(`${base}/trips`);
  await page.locator('summary', { hasText: '登记外出' }).click();
  await page.fill('form[role=search] input[name=find]', worker);
  await clickAndWait(page, submit(page, '查找'));
  await clickAndWait(page, page.locator('ul.pick a', { hasText: worker }).first());
  await page.selectOption('select[name=kind]', 'local_work');
  await page.fill('input[name=destination]', '城区建筑工地');
  let res = await clickAndWait(page, submit(page, '登记外出'));
  assert.equal(res.status(), 422, 'local work needs its last day');
  assert.ok((await page.locator('main .error').innerText()).includes('市内务工须填写截止日期'));
  assert.equal(await page.inputValue('input[name=destination]'), '城区建筑工地', 'the form is kept');
  await shot(page, 'trip-refused-360.png');
  await page.fill('input[name=return_on]', later(6));
  res = await clickAndWait(page, submit(page, '登记外出'));
  assert.equal(res.status(), 200);
  assert.ok((await bodyText(page)).includes('已登记外出'));

  // 今日待记录: the row takes today's temperature.
  const state = page.locator('form.filters select[name=state]');
  await state.selectOption('log_due');
  await clickAndWait(page, page.locator('form.filters button', { hasText: '筛选' }));
  const row = page.locator('ul.cp-trips li', { hasText: worker }).first();
  assert.ok((await row.innerText()).includes('今日待记录'), 'the new trip waits for today');
  await shot(page, 'trip-log-due-360.png');
  await reportOverflow(page, 'trips due today at 360px');
  await row.locator('input[name=temperature]').fill('36.6');
  res = await clickAndWait(page, row.locator('button', { hasText: '记录' }));
  assert.equal(res.status(), 200);
  assert.ok((await bodyText(page)).includes('已记录'));
  assert.equal(await page.locator('ul.cp-trips li', { hasText: worker }).count(), 0, 'no longer due today');

  // The trip page shows the day's entry.
  await page.goto(`${base}/trips?state=all`);
  await clickAndWait(page, page.locator('ul.cp-trips li a', { hasText: worker }).first());
  assert.match(pathOf(page), /^\/trips\/\d+$/);
  const detail = await bodyText(page);
  assert.ok(detail.includes(`${chinaToday()}`) && detail.includes('36.6℃'), detail);
  await shot(page, 'trip-detail-360.png');
  await reportOverflow(page, 'trip page at 360px');

  // 集体出行: two residents ticked, a week of field work in one van.
  await page.goto(`${base}/trips/groups/new`);
  for (const name of RESIDENTS.slice(1)) {
    // Exactly this name, the one registered above (listed first, newest first).
    const label = page.locator('ul.group-members label').filter({ hasText: new RegExp(`^\\s*${name}\\s*$`) });
    await label.first().locator('input[type=checkbox]').check();
  }
  await page.selectOption('select[name=kind]', 'field_work');
  await page.fill('input[name=destination]', '后山茶园');
  await page.fill('input[name=return_on]', later(6));
  await page.fill('input[name=organiser]', '和师傅 13908870001');
  await page.fill('input[name=vehicle_plate]', '云R12345');
  await shot(page, 'trip-group-360.png');
  await reportOverflow(page, 'group page at 360px');
  res = await clickAndWait(page, submit(page, '登记集体出行'));
  assert.equal(res.status(), 200);
  const list = await bodyText(page);
  assert.ok(list.includes('已登记集体出行'), list);
  assert.equal(await page.locator('ul.cp-trips li', { hasText: '集体出行' }).count(), 2, 'one trip each');
  await shot(page, 'trip-list-360.png');
  await logOut(page);
});
