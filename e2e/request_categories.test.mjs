// Browser test: request categories and their deadlines (诉求类别与时限), departments (部门).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test request_categories.test.mjs
//
// - the admin, on a 360×740 phone, opens 诉求 → 类别与时限, opens 一般诉求, types a word
//   into 办结时限 (refused, the field named, the input kept), then 10 days: a new version;
// - the admin retires 复杂诉求 through its confirmation page; it leaves the list;
// - the official adds a department; staff read the page but get no forms.
//
// Screenshots land in e2e/screenshots/request-categories-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, logOut, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const button = (page, text) => page.locator('main button[type=submit]', { hasText: text }).first();

async function openCategories(page) {
  await clickAndWait(page, page.locator('header nav a', { hasText: '诉求' }).first());
  assert.equal(pathOf(page), '/requests');
  const res = await clickAndWait(page, page.locator('main a[href="/requests/categories"]').first());
  assert.equal(pathOf(page), '/requests/categories');
  assert.equal(res.status(), 200);
}

test('browser: an admin changes a deadline on a phone', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-categories-' });
  const base = server.base;

  await t.test('the admin edits 一般诉求 from 7 to 10 days', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'admin', PASSWORD);
    await openCategories(page);
    const general = page.locator('tr[data-code=general]');
    assert.ok((await general.innerText()).includes('7 天'), 'the general category starts at 7 days');
    assert.ok((await bodyText(page)).includes('已收到的诉求仍按受理时的时限计算'));
    await shot(page, 'request-categories-list-360.png');
    await reportOverflow(page, 'categories list at 360px');
    await page.locator('details#new summary').click();
    assert.equal(await page.inputValue('select[name=escalation]'), 'on_late_resolution');
    await shot(page, 'request-categories-new-form-360.png');

    await clickAndWait(page, general.locator('a', { hasText: '修改' }));
    assert.equal(pathOf(page), '/requests/categories/general');
    assert.equal(await page.inputValue('input[name=resolve_days]'), '7');

    // A word where a number belongs: refused, the field named, what was typed kept.
    await page.fill('input[name=resolve_days]', '十天');
    const refused = await clickAndWait(page, button(page, '保存为新版本'));
    assert.equal(refused.status(), 422);
    assert.ok((await bodyText(page)).includes('办结时限：办结时限应填整数天数'), 'the field is named');
    assert.equal(await page.inputValue('input[name=resolve_days]'), '十天');
    await shot(page, 'request-categories-refused-360.png');
    await reportOverflow(page, 'refused edit at 360px');

    await page.fill('input[name=resolve_days]', '10');
    await page.selectOption('select[name=escalation]', 'on_late_response');
    await clickAndWait(page, button(page, '保存为新版本'));
    assert.equal(pathOf(page), '/requests/categories');
    assert.ok((await bodyText(page)).includes('已保存类别「general」的新版本'));
    const row = await page.locator('tr[data-code=general]').innerText();
    assert.ok(row.includes('10 天') && row.includes('第 2 版') && row.includes('响应超时即升级'), row);
    await shot(page, 'request-categories-saved-360.png');

    await clickAndWait(page, page.locator('tr[data-code=general] a', { hasText: '修改' }));
    const versions = await page.locator('#versions tbody tr').allInnerTexts();
    assert.equal(versions.length, 2);
    assert.ok(versions[0].includes('第 2 版') && versions[0].includes('10 天'), 'newest first');
    assert.ok(versions[1].includes('第 1 版') && versions[1].includes('7 天'));
    await shot(page, 'request-categories-detail-360.png');
    await reportOverflow(page, 'category page at 360px');
  });

  await t.test('the admin retires 复杂诉求 after confirming', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'admin', PASSWORD);
    await page.goto(`${base}/requests/categories`);
    await clickAndWait(page, page.locator('tr[data-code=complex] a', { hasText: '停用' }));
    assert.equal(pathOf(page), '/requests/categories/complex/retire');
    await shot(page, 'request-categories-retire-360.png');
    await clickAndWait(page, button(page, '确认停用'));
    assert.ok((await bodyText(page)).includes('已停用类别「complex」'));
    assert.equal(await page.locator('tr[data-code=complex]').count(), 0, 'gone from the list');
    await logOut(page);
  });

  await t.test('the official adds a department; staff only read', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'official', PASSWORD);
    await openCategories(page);
    assert.equal(await page.locator('form[action="/requests/categories"]').count(), 0, 'no category form');
    await page.fill('form[action="/requests/departments"] input[name=name]', '城管执法队');
    await clickAndWait(page, button(page, '添加部门'));
    assert.ok((await page.locator('ul.departments').innerText()).includes('城管执法队'));
    await shot(page, 'request-categories-departments-360.png');
    await logOut(page);

    const staff = await newPage(PHONE);
    await logIn(staff, base, 'staff', PASSWORD);
    await openCategories(staff);
    assert.equal(await staff.locator('main form').count(), 0, 'staff see no forms');
    assert.ok((await bodyText(staff)).includes('10 天'));
    await logOut(staff);
  });
});
