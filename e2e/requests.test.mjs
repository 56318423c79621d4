// Browser test: residents' requests (接诉即办) from the resident's phone to the rating.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test requests.test.mjs
//
// - staff (李秀英, 里布嘎社区) opens 诉求 and reads the community's public link /r/{id};
// - a resident (no login, 360×740 phone) reports a water outage there with a photo (a small
//   PNG), gets a tracking number, and checks the status with it and the last 4 digits of the
//   phone (the status page never shows the photo);
// - staff dispatch the request to 第01网格; the grid worker (格桑) sees the photo, accepts,
//   starts and resolves it, saying what was done;
// - the resident checks again, sees the outcome and rates it 满意, which closes it;
// - the official (和丽华, 建塘镇) sees the three rates for the street.
//
// Screenshots land in e2e/screenshots/requests-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, DESKTOP, logIn, logOut, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const PHONE_NUMBER = '13612348609';
// A 96×64 PNG (sky, a grey pipe, water), as a phone's camera would attach it.
const PHOTO_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAGAAAABACAIAAABqVuVZAAAAi0lEQVR42u3WMRHAIBBEUeRESeRQU0dENJ0SRFBhgDkBx5v55Vav2hZzKakhAAQIECBAgAABEiBAgAABAgQIkAABAgQIEKASQGN8SgIECBAgQIAAAQIkQIAAAQIEqBrQ+89jT49jt+0BAQIECBAgQHWBQOR7QIAAAQIECFBdIBCeNCBAgAABAnQp0AbX7KazqxcdVgAAAABJRU5ErkJggg==',
  'base64',
);

async function openRequests(page) {
  const link = page.locator('header nav a', { hasText: '诉求' }).first();
  assert.equal(await link.count(), 1, 'the header should have a 诉求 link');
  const res = await clickAndWait(page, link);
  assert.equal(pathOf(page), '/requests');
  assert.equal(res.status(), 200, '/requests: HTTP status');
}

const button = (page, text) => page.locator('main button[type=submit]', { hasText: text }).first();

test('browser: a resident reports on a phone, a worker resolves, the resident rates', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-requests-' });
  const base = server.base;
  let publicLink = '';
  let tracking = '';

  await t.test('staff find the community\'s public link', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await openRequests(page);
    const text = await bodyText(page);
    assert.ok(text.includes('里布嘎社区'), 'the inbox names the node');
    publicLink = await page.locator('main a[href^="/r/"]').first().getAttribute('href');
    assert.match(publicLink, /^\/r\/\d+$/);
    await logOut(page);
  });

  await t.test('a resident reports a water outage without logging in', async () => {
    const page = await newPage(PHONE);
    const res = await page.goto(`${base}${publicLink}`);
    assert.equal(res.status(), 200);
    assert.ok((await bodyText(page)).includes('里布嘎社区'), 'the form names the community');
    // Refused first: no phone, nothing stored, the words kept.
    await page.check('input[name=category][value=utilities]');
    await page.fill('textarea[name=description]', '3栋2单元从早上起停水，家里有老人');
    await page.locator('input[name=phone]').evaluate((el) => el.removeAttribute('required'));
    const refused = await clickAndWait(page, button(page, '提交'));
    assert.equal(refused.status(), 422);
    assert.ok((await bodyText(page)).includes('手机号码：必填'), 'the missing phone is named');
    assert.equal(await page.inputValue('textarea[name=description]'), '3栋2单元从早上起停水，家里有老人');

    await page.fill('input[name=phone]', PHONE_NUMBER);
    await page.fill('input[name=name]', '王阿姨');
    await page.fill('input[name=address]', '3栋2单元');
    assert.equal(await page.getAttribute('form.declare', 'enctype'), 'multipart/form-data');
    assert.equal(await page.getAttribute('input[name=photo]', 'capture'), 'environment');
    await page.setInputFiles('input[name=photo]', {
      name: 'water.png',
      mimeType: 'image/png',
      buffer: PHOTO_PNG,
    });
    await shot(page, 'requests-resident-form-360.png');
    await reportOverflow(page, 'resident form at 360px');
    const done = await clickAndWait(page, button(page, '提交'));
    assert.equal(done.status(), 200);
    tracking = (await page.locator('#tracking-number').innerText()).trim();
    assert.match(tracking, /^\d{14}$/);
    const text = await bodyText(page);
    assert.ok(text.includes('24 小时内会有人响应'), 'the deadline of the category is told');
    await shot(page, 'requests-resident-receipt-360.png');

    await clickAndWait(page, page.locator('main a', { hasText: '查询进度' }).first());
    assert.equal(await page.inputValue('input[name=tracking_number]'), tracking);
    await page.fill('input[name=last4]', '0000');
    const wrong = await clickAndWait(page, button(page, '查询'));
    assert.equal(wrong.status(), 404, 'a wrong last 4 digits reveals nothing');
    await page.fill('input[name=last4]', PHONE_NUMBER.slice(-4));
    await clickAndWait(page, button(page, '查询'));
    assert.equal((await page.locator('#status').innerText()).trim(), '已受理');
    assert.equal(await page.locator('img').count(), 0, 'the status page shows no photo');
    await shot(page, 'requests-resident-status-360.png');
    await reportOverflow(page, 'resident status at 360px');
  });

  await t.test('staff dispatch it to the grid', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await openRequests(page);
    await shot(page, 'requests-inbox-360.png');
    await reportOverflow(page, 'inbox at 360px');
    await clickAndWait(page, page.locator('main ul.rows a', { hasText: '从早上起停水' }).first());
    assert.match(pathOf(page), /^\/requests\/\d+$/);
    const text = await bodyText(page);
    assert.ok(text.includes('136****8609'), 'the phone is masked');
    assert.ok(!text.includes(PHONE_NUMBER), 'never the clear number');
    await shot(page, 'requests-staff-request-360.png');
    await reportOverflow(page, 'request page with its forms at 360px');
    const target = page.locator('select[name=target]');
    await target.selectOption(await optionValueContaining(target, '第01网格'));
    await clickAndWait(page, button(page, '派单'));
    assert.equal((await page.locator('#status').innerText()).trim(), '已派单');
    await logOut(page);
  });

  await t.test('the grid worker accepts, works and resolves it', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'gridworker', PASSWORD);
    await openRequests(page);
    await clickAndWait(page, page.locator('main a.pill', { hasText: '待派单/待接单' }).first());
    await clickAndWait(page, page.locator('main ul.rows a', { hasText: '从早上起停水' }).first());
    assert.equal(await page.locator('select[name=target]').count(), 0, 'grid workers do not dispatch');
    // The resident's photo, served from the database with its sniffed type.
    const photo = page.locator('img#request-photo');
    await photo.scrollIntoViewIfNeeded();
    assert.equal(
      await photo.evaluate((img) => img.complete && img.naturalWidth),
      96,
      'the photo loads',
    );
    const res = await page.request.get(`${base}${await photo.getAttribute('src')}`);
    assert.equal(res.headers()['content-type'], 'image/png');
    assert.deepEqual(Buffer.from(await res.body()), PHOTO_PNG);
    await shot(page, 'requests-worker-photo-360.png');
    await clickAndWait(page, button(page, '接单'));
    await clickAndWait(page, button(page, '开始办理'));
    // An empty outcome is refused with the reason.
    await page.locator('textarea[name=outcome]').evaluate((el) => el.removeAttribute('required'));
    const refused = await clickAndWait(page, button(page, '办结'));
    assert.equal(refused.status(), 422);
    assert.ok((await bodyText(page)).includes('请填写办理结果'), 'the refusal names the field');
    await page.fill('textarea[name=outcome]', '联系自来水公司抢修主管道，14:00 恢复供水');
    await clickAndWait(page, button(page, '办结'));
    assert.equal((await page.locator('#status').innerText()).trim(), '已办结');
    const steps = await page.locator('#timeline li').allInnerTexts();
    assert.deepEqual(
      steps.map((s) => s.split(/\s+/)[2]),
      ['受理', '派单', '接单', '开始办理', '办结'],
    );
    await shot(page, 'requests-worker-resolved-360.png');
    await reportOverflow(page, 'request page at 360px');
    await logOut(page);
  });

  await t.test('the resident sees the outcome and rates it', async () => {
    const page = await newPage(PHONE);
    await page.goto(`${base}/r/status?n=${tracking}`);
    await page.fill('input[name=last4]', PHONE_NUMBER.slice(-4));
    await clickAndWait(page, button(page, '查询'));
    assert.equal((await page.locator('#status').innerText()).trim(), '已办结');
    assert.ok((await page.locator('#outcome').innerText()).includes('恢复供水'));
    await shot(page, 'requests-resident-rate-360.png');
    await page.check('input[name=rating][value=satisfied]');
    await page.fill('input[name=comment]', '很及时，谢谢');
    await clickAndWait(page, button(page, '提交评价'));
    const text = await bodyText(page);
    assert.ok(text.includes('谢谢您的评价'));
    assert.equal((await page.locator('#status').innerText()).trim(), '已关闭');
    assert.ok(!text.includes('格桑') && !text.includes('gridworker'), 'the resident does not see who handled it');
    await shot(page, 'requests-resident-closed-360.png');
  });

  await t.test('the official reads the three rates', async () => {
    const page = await newPage(DESKTOP);
    await logIn(page, base, 'official', PASSWORD);
    await openRequests(page);
    await clickAndWait(page, page.locator('main a', { hasText: '三率统计' }).first());
    assert.equal(pathOf(page), '/requests/rates');
    const tiles = await page.locator('#rates').innerText();
    assert.ok(tiles.includes('100.0%'), `the rates: ${tiles}`);
    assert.ok(tiles.includes('满意+基本满意 1 / 已评价 1'));
    await shot(page, 'requests-rates-desktop.png');
    const phone = await newPage(PHONE);
    await logIn(phone, base, 'official', PASSWORD);
    await phone.goto(`${base}/requests/rates`);
    await shot(phone, 'requests-rates-360.png');
    await reportOverflow(phone, 'rates at 360px');
  });

  await t.test('staff file a hotline call and add its photo later', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await page.goto(`${base}/requests/new`);
    assert.equal(await page.getAttribute('form.card', 'enctype'), 'multipart/form-data');
    const place = page.locator('select[name=node_id]');
    await place.selectOption(await optionValueContaining(place, '里布嘎社区'));
    await page.selectOption('select[name=channel]', 'hotline');
    await page.fill('textarea[name=description]', '夜间施工噪音扰民');
    await shot(page, 'requests-staff-form-360.png');
    await reportOverflow(page, 'staff request form at 360px');
    await clickAndWait(page, button(page, '登记'));
    assert.match(pathOf(page), /^\/requests\/\d+$/);
    assert.equal(await page.locator('img#request-photo').count(), 0, 'no photo yet');
    await shot(page, 'requests-staff-add-photo-360.png');
    await reportOverflow(page, 'request page with the photo form at 360px');
    await page.setInputFiles('input[name=photo]', {
      name: 'noise.png',
      mimeType: 'image/png',
      buffer: PHOTO_PNG,
    });
    await clickAndWait(page, button(page, '上传'));
    assert.ok((await bodyText(page)).includes('已上传照片'));
    assert.equal(
      await page.locator('img#request-photo').evaluate((img) => img.complete && img.naturalWidth),
      96,
    );
    const steps = await page.locator('#timeline li').allInnerTexts();
    assert.ok(steps.some((s) => s.includes('补充照片')), `the timeline: ${steps}`);
  });
});
