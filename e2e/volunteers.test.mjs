// Browser test: volunteers (志愿服务), all at 360 px.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test volunteers.test.mjs
//
// staff (李秀英, 里布嘎社区) opens 志愿 on a phone, publishes a service activity that started two
// hours ago (a volunteer's hours can be confirmed at once) and reads its short code off the
// activity page and the QR poster. A resident, not logged in, types the short-code address
// (/v/CODE) on her phone and signs up with name and phone; the same phone again is refused.
// She reports 2 hours herself. staff sees her sign-up pending, confirms 2.5 hours, confirms her
// as a volunteer and prints her certificate of service hours.
//
// Screenshots land in e2e/screenshots/volunteers-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, chinaToday, clickAndWait, logIn, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

/** A `datetime-local` value in China time, `hours` from now. */
const chinaLocal = (hours) =>
  new Date(Date.now() + (8 + hours) * 3600 * 1000).toISOString().slice(0, 16);

const TITLE = '敬老院陪伴服务';

test('browser: staff publish an activity, a resident signs up by its short code, staff confirm hours and print a certificate', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-volunteers-' });
  const base = server.base;
  let staff = null;
  let code = '';
  let activityPath = '';

  await t.test('staff publish an activity and read its short code and poster', async () => {
    const page = await newPage(PHONE);
    staff = page;
    const res = await logIn(page, base, 'staff', PASSWORD);
    assert.equal(res.status(), 200, 'staff login: HTTP status');
    const nav = page.locator('header nav a', { hasText: '志愿' }).first();
    assert.equal(await nav.count(), 1, 'the header has a 志愿 link');
    await clickAndWait(page, nav);
    assert.equal(pathOf(page), '/volunteers');
    await shot(page, 'volunteers-list-phone.png');
    await reportOverflow(page, 'volunteers list');
    assert.ok((await bodyText(page)).includes('在册志愿者'), 'the counts are shown');

    await clickAndWait(page, page.locator('a.pill', { hasText: '服务活动' }).first());
    assert.equal(pathOf(page), '/activities');
    await clickAndWait(page, page.getByRole('link', { name: '发布活动' }).first());
    assert.equal(pathOf(page), '/activities/new');
    const select = page.locator('select[name=node_id]');
    await select.selectOption(await optionValueContaining(select, '里布嘎社区'));
    await page.fill('input[name=title]', TITLE);
    await page.fill('input[name=place]', '幸福敬老院');
    await page.fill('input[name=starts_at]', chinaLocal(-2));
    await page.fill('input[name=ends_at]', chinaLocal(1));
    await page.fill('textarea[name=needs]', '心理 1\n不限 3');
    await shot(page, 'volunteers-activity-form-phone.png');
    const made = await clickAndWait(page, page.locator('#activity-form button[type=submit]'));
    assert.equal(made.status(), 200, 'the activity page follows the form');
    assert.match(pathOf(page), /^\/activities\/\d+$/);
    activityPath = pathOf(page);
    code = (await page.locator('#short-code').innerText()).trim();
    assert.match(code, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}$/, `a short code: ${code}`);
    assert.equal(await page.locator('#signup-link svg').count(), 1, 'a QR code is drawn');
    await shot(page, 'volunteers-activity-phone.png');
    await reportOverflow(page, 'activity page');

    await clickAndWait(page, page.getByRole('link', { name: '打印海报' }));
    assert.equal((await page.locator('#poster-code').innerText()).trim(), code, 'the poster carries the code');
    assert.equal(await page.locator('#qr svg').count(), 1, 'and the QR code');
    await shot(page, 'volunteers-poster-phone.png');
  });

  await t.test('a resident types the short-code address and signs up, then reports her hours', async () => {
    const page = await newPage(PHONE);
    const res = await page.goto(`${base}/v/${code.toLowerCase()}`);
    assert.equal(res.status(), 200);
    const text = await bodyText(page);
    assert.ok(text.includes(TITLE) && text.includes('里布嘎社区'), 'the activity and its community are named');
    await page.fill('#signup-form input[name=name]', '钱晓梅');
    await page.fill('#signup-form input[name=phone]', '158 1234 5678');
    const done = await clickAndWait(page, page.locator('#signup-form button[type=submit]'));
    assert.equal(done.status(), 200);
    assert.ok((await page.locator('#receipt').innerText()).includes('报名已提交'), 'a receipt');
    await shot(page, 'volunteers-public-signed-phone.png');
    await reportOverflow(page, 'public sign-up');

    await page.fill('#signup-form input[name=name]', '钱晓梅');
    await page.fill('#signup-form input[name=phone]', '15812345678');
    const again = await clickAndWait(page, page.locator('#signup-form button[type=submit]'));
    assert.equal(again.status(), 422, 'the same phone twice is refused');
    assert.ok((await bodyText(page)).includes('不能重复报名'));

    await page.fill('#hours-form input[name=phone]', '15812345678');
    await page.fill('#hours-form input[name=hours]', '2');
    const reported = await clickAndWait(page, page.locator('#hours-form button[type=submit]'));
    assert.equal(reported.status(), 200);
    assert.ok((await page.locator('#receipt').innerText()).includes('等待活动组织者确认'));
    await shot(page, 'volunteers-public-hours-phone.png');
  });

  await t.test('staff confirm her hours and print her certificate', async () => {
    const page = staff;
    await page.goto(`${base}${activityPath}`);
    const row = page.locator('#signups li', { hasText: '钱晓梅' });
    assert.equal(await row.count(), 1, 'her sign-up is listed');
    assert.ok((await row.innerText()).includes('待确认'), 'her reported hours wait');
    await row.locator('input[name=hours]').fill('2.5');
    await clickAndWait(page, row.getByRole('button', { name: '到场并确认' }));
    assert.ok((await page.locator('.notice').innerText()).includes('服务时长已确认'));
    assert.ok((await page.locator('#signups li', { hasText: '钱晓梅' }).innerText()).includes('2.5 小时'));
    await shot(page, 'volunteers-activity-confirmed-phone.png');

    await clickAndWait(page, page.locator('#signups a', { hasText: '钱晓梅' }));
    assert.match(pathOf(page), /^\/volunteers\/\d+$/);
    assert.equal((await page.locator('#total-hours').innerText()).trim(), '2.5');
    await clickAndWait(page, page.getByRole('button', { name: '确认为志愿者' }));
    assert.ok((await bodyText(page)).includes('在册'), 'confirmed as a volunteer');
    await shot(page, 'volunteers-volunteer-phone.png');
    await reportOverflow(page, 'volunteer page');

    await page.fill('#certificate-form input[name=from]', chinaToday());
    await clickAndWait(page, page.locator('#certificate-form button[type=submit]'));
    assert.equal((await page.locator('#cert-total').innerText()).trim(), '2.5');
    assert.match((await page.locator('#cert-no').innerText()).trim(), /^ZY\d{6}-\d{8}-\d{8}$/);
    assert.ok((await bodyText(page)).includes(TITLE));
    await shot(page, 'volunteers-certificate-phone.png');
    await reportOverflow(page, 'certificate');
  });
});
