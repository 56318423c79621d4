// Browser test: self-declaration by QR link on a phone, its review, and the fever alert.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test declare.test.mjs
//
// gridworker (格桑, bound to 第01网格) opens 防疫 → 申报二维码链接 on a 360×740 phone and makes
// the link of the grid. A resident opens it in a browser of their own (no login) on a phone,
// declares an arrival from Wuhan on 2020-02-01 with a fever — a wrong ID number first, refused
// with the form filled back — and gets a receipt with a reference and the preliminary result.
// The grid worker finds it in 自主申报审核, confirms it, reads the classification (the 2020
// policy: 集中隔离 14 天) and handles the fever alert it raised (留观).
//
// Screenshots land in e2e/screenshots/declare-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, idCheck, logIn, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const ID_BODY = '53340119880606003';
const ID = ID_BODY + idCheck(ID_BODY);
// The same number with a wrong check character.
const BAD_ID = ID_BODY + (idCheck(ID_BODY) === '0' ? '1' : '0');
const NAME = '赵六';

async function openEpidemic(page) {
  const res = await clickAndWait(page, page.locator('header nav a', { hasText: '防疫' }).first());
  assert.equal(pathOf(page), '/epidemic', '防疫 should open /epidemic');
  assert.equal(res.status(), 200, '/epidemic: HTTP status');
}

test('browser: a resident self-declares through the QR link on a phone, the grid worker confirms it and handles the fever alert', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-declare-' });
  const base = server.base;

  const worker = await newPage(PHONE);
  let link = '';

  await t.test('the grid worker makes the link of the grid', async () => {
    const res = await logIn(worker, base, 'gridworker', PASSWORD);
    assert.equal(res.status(), 200, 'gridworker login: HTTP status');
    await openEpidemic(worker);
    await clickAndWait(worker, worker.getByRole('link', { name: '申报二维码链接' }).first());
    assert.equal(pathOf(worker), '/epidemic/declaration-links');
    const select = worker.locator('select[name=node_id]');
    await select.selectOption(await optionValueContaining(select, '第01网格'));
    const made = await clickAndWait(worker, worker.locator('main form button[type=submit]', { hasText: '生成链接' }));
    assert.equal(made.status(), 200, 'after creating: HTTP status');
    assert.ok((await bodyText(worker)).includes('已生成申报链接'), 'the notice is shown');
    link = await worker.locator('.link-url a').first().getAttribute('href');
    assert.match(link, /\/d\/[2-9A-HJKMNP-Z]{10}$/, 'the link carries a short code a person can type');
    await shot(worker, 'declare-links-360.png');
    await reportOverflow(worker, 'links at 360px');

    await clickAndWait(worker, worker.getByRole('link', { name: '打印张贴' }).first());
    assert.equal((await worker.locator('.print-url').innerText()).trim(), link, 'the print page shows the address');
    await shot(worker, 'declare-print-360.png');
  });

  await t.test('a resident declares on a phone, a wrong ID number first', async () => {
    const phone = await newPage(PHONE);
    const res = await phone.goto(link);
    assert.equal(res.status(), 200, 'the public form: HTTP status');
    assert.equal(await phone.locator('header nav').count(), 0, 'no app navigation on the public form');
    assert.ok((await bodyText(phone)).includes('第01网格'), 'the form names the grid');
    await shot(phone, 'declare-form-360.png');
    await reportOverflow(phone, 'public form at 360px');

    await phone.fill('input[name=name]', NAME);
    await phone.fill('input[name=id_number]', BAD_ID);
    await phone.fill('input[name=phone]', '13988886666');
    await phone.fill('input[name=address]', '5栋1单元302室');
    // The place by name, as a resident says it (420102, Wuhan's 江岸区).
    await phone.fill('input[name=origin_code]', '武汉江岸');
    await phone.fill('input[name=arrived_on]', '2020-02-01');
    await phone.fill('input[name=purpose]', '返乡');
    await phone.fill('input[name=temperature]', '38.2');
    const refused = await clickAndWait(phone, phone.locator('form button[type=submit]'));
    assert.equal(refused.status(), 422, 'a wrong ID number answers 422');
    const fieldErrors = (await phone.locator('.field-error').allInnerTexts()).join('\n');
    assert.ok(fieldErrors.length > 0, 'the message sits under the field');
    assert.equal(await phone.locator('input[name=id_number][aria-invalid=true]').count(), 1, 'the ID field is marked');
    assert.equal(await phone.inputValue('input[name=name]'), NAME, 'the name comes back');
    assert.equal(await phone.inputValue('input[name=temperature]'), '38.2', 'the temperature comes back');
    await shot(phone, 'declare-refused-360.png');

    await phone.fill('input[name=id_number]', ID);
    const done = await clickAndWait(phone, phone.locator('form button[type=submit]'));
    assert.equal(done.status(), 200, 'the receipt: HTTP status');
    const text = await bodyText(phone);
    assert.ok(text.includes('社区工作人员核实后会联系您'), 'the receipt says what happens next');
    assert.match((await phone.locator('.receipt .reference').innerText()).trim(), /^[0-9A-F]{5}-[0-9A-F]{5}$/);
    assert.equal((await phone.locator('.verdict-box .measure').innerText()).trim(), '集中隔离', 'the preliminary result');
    assert.ok(!text.includes(ID) && !text.includes(ID.slice(6, 14)), 'the ID number is not echoed');
    assert.ok(text.includes('从湖北省武汉市江岸区抵达'), `the receipt names the place: ${text}`);
    await shot(phone, 'declare-receipt-360.png');
    await reportOverflow(phone, 'receipt at 360px');
  });

  await t.test('the grid worker confirms it and reads the classification', async () => {
    await worker.goto(`${base}/epidemic`);
    await clickAndWait(worker, worker.getByRole('link', { name: '自主申报审核' }).first());
    assert.equal(pathOf(worker), '/epidemic/declarations');
    const row = worker.locator('ul.declarations li', { hasText: NAME });
    assert.equal(await row.count(), 1, 'the declaration waits in the queue');
    assert.ok(!(await bodyText(worker)).includes(ID), 'the queue masks the ID number');
    await shot(worker, 'declare-queue-360.png');
    await reportOverflow(worker, 'review queue at 360px');

    await clickAndWait(worker, row.getByRole('link', { name: NAME }));
    assert.match(pathOf(worker), /^\/epidemic\/declarations\/\d+$/);
    await shot(worker, 'declare-review-360.png');
    await reportOverflow(worker, 'review page at 360px');
    const confirmed = await clickAndWait(worker, worker.locator('main form button[type=submit]', { hasText: '确认并判定' }));
    assert.equal(confirmed.status(), 200, 'the result: HTTP status');
    assert.equal((await worker.locator('.verdict-box .measure').innerText()).trim(), '集中隔离');
    assert.equal((await worker.locator('.verdict-box .days').innerText()).trim(), '14 天');
    const explanation = await worker.locator('section.explain p').innerText();
    console.log(`explanation: ${explanation}`);
    assert.ok(explanation.length > 20, 'an explanation to read aloud');
    assert.ok((await bodyText(worker)).includes('已发出发热预警'), 'the fever raised an alert');
    await shot(worker, 'declare-confirmed-360.png');
    await reportOverflow(worker, 'confirmation at 360px');
  });

  await t.test('the grid worker handles the fever alert', async () => {
    await clickAndWait(worker, worker.getByRole('link', { name: '处理发热预警' }));
    assert.equal(pathOf(worker), '/epidemic/alerts');
    const item = worker.locator('ul.alerts li', { hasText: NAME }).first();
    await item.locator('summary', { hasText: '处理' }).click();
    await item.locator('select[name=outcome]').selectOption('observing');
    await item.locator('input[name=note]').fill('县医院发热门诊留观');
    await shot(worker, 'declare-alert-handle-360.png');
    const handled = await clickAndWait(worker, item.locator('button[type=submit]'));
    assert.equal(handled.status(), 200, 'after handling: HTTP status');
    assert.ok((await bodyText(worker)).includes(`已记录${NAME}的预警处理结果`), 'the notice names the person');
    assert.equal(await worker.locator('ul.alerts li', { hasText: NAME }).count(), 0, 'the alert left the list');
    await shot(worker, 'declare-alert-handled-360.png');
  });
});
