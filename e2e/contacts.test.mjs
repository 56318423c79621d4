// Browser test: a grid worker records a case and two contacts on a phone, then opens the chain
// of transmission (an SVG drawn on the server) on the phone and on a desktop.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test contacts.test.mjs
//
// gridworker (格桑, bound to 第01网格) registers three residents, marks 张三丰 a confirmed case
// (diagnosed 2022-07-03), links 李四光 as his close contact (last contact 2022-07-01: the 9th
// edition's 7 + 3 days, until 2022-07-10) and 王五福 as a contact of 李四光 — first wrongly to the
// case itself, refused with the rule named — then opens the chain: three boxes, masked names.
//
// Screenshots land in e2e/screenshots/contacts-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, DESKTOP, logIn, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const CASE = '张三丰';
const CLOSE = '李四光';
const SECOND = '王五福';

const submit = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

/** Registers a resident of 第01网格 through /persons/new; returns the person's path. */
async function register(page, base, name, address) {
  await page.goto(`${base}/persons/new`);
  const select = page.locator('select[name=node_id]');
  await select.selectOption(await optionValueContaining(select, '第01网格'));
  await page.fill('input[name=address]', address);
  await page.fill('input[name=name]', name);
  const res = await clickAndWait(page, submit(page, '保存'));
  assert.equal(res.status(), 200, `registering ${name}: HTTP status`);
  assert.match(pathOf(page), /^\/persons\/\d+$/, 'saving lands on /persons/{id}');
  return pathOf(page);
}

/** From a person's page, follows 病例与密接 to their contacts page. */
async function openContacts(page, base, personPath) {
  await page.goto(`${base}${personPath}`);
  const res = await clickAndWait(page, page.getByRole('link', { name: '病例与密接' }).first());
  assert.equal(res.status(), 200, 'contacts page: HTTP status');
  assert.equal(pathOf(page), `${personPath}/contacts`);
}

test('browser: a grid worker records a case and two contacts and opens the chain', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-contacts-' });
  const base = server.base;
  const page = await newPage(PHONE);
  const paths = {};
  let chainPath = null;

  await t.test('the worker registers three residents', async () => {
    const res = await logIn(page, base, 'gridworker', PASSWORD);
    assert.equal(res.status(), 200, 'gridworker login: HTTP status');
    paths.case = await register(page, base, CASE, '1栋1单元101室');
    paths.close = await register(page, base, CLOSE, '2栋1单元201室');
    paths.second = await register(page, base, SECOND, '3栋2单元301室');
  });

  await t.test('the worker marks the case from the person page', async () => {
    await openContacts(page, base, paths.case);
    await page.locator('summary', { hasText: '标记为病例' }).click();
    await page.selectOption('select[name=kind]', 'confirmed');
    await page.fill('input[name=diagnosed_on]', '2022-07-03');
    const res = await clickAndWait(page, submit(page, '标记为病例'));
    assert.equal(res.status(), 200);
    const body = await bodyText(page);
    assert.ok(body.includes('已标记为病例'), 'the page says 已标记为病例');
    assert.ok(body.includes('确诊病例') && body.includes('2022-07-03'), body);
  });

  await t.test('a close contact counts from the last contact', async () => {
    await openContacts(page, base, paths.close);
    await page.selectOption('select[name=type]', 'close_contact');
    const source = page.locator('select[name=source_person_id]');
    await source.selectOption(await optionValueContaining(source, CASE));
    await page.fill('input[name=last_contact_on]', '2022-07-01');
    const res = await clickAndWait(page, submit(page, '登记'));
    await shot(page, 'contacts-person-360.png');
    await reportOverflow(page, 'contacts page at 360px');
    assert.equal(res.status(), 200);
    const body = await bodyText(page);
    assert.ok(body.includes('已登记接触关系'), body);
    assert.ok(body.includes('集中隔离') && body.includes('至 2022-07-10'), `9th edition, 7 + 3 days: ${body}`);
    const links = (await page.locator('main ul.links').allInnerTexts()).join('\n');
    assert.ok(links.includes('张**'), `the source is shown masked: ${links}`);
    assert.ok(!links.includes(CASE), 'the source is not named in clear in the list');
  });

  await t.test('a contact of a contact must link to a close contact', async () => {
    await openContacts(page, base, paths.second);
    await page.selectOption('select[name=type]', 'secondary_contact');
    const source = page.locator('select[name=source_person_id]');
    await source.selectOption(await optionValueContaining(source, CASE));
    await page.fill('input[name=last_contact_on]', '2022-07-02');
    let res = await clickAndWait(page, submit(page, '登记'));
    await shot(page, 'contacts-refused-360.png');
    assert.equal(res.status(), 422, 'a 次密接 of a case is refused');
    const errors = (await page.locator('main [role=alert]').allInnerTexts()).join('\n');
    assert.ok(errors.includes('次密接') && errors.includes('密接'), errors);
    assert.equal(await page.inputValue('input[name=last_contact_on]'), '2022-07-02', 'the date comes back');

    await source.selectOption(await optionValueContaining(source, CLOSE));
    res = await clickAndWait(page, submit(page, '登记'));
    assert.equal(res.status(), 200);
    const body = await bodyText(page);
    assert.ok(body.includes('居家隔离') && body.includes('至 2022-07-08'), `9th edition, 7 days at home: ${body}`);
  });

  await t.test('the chain shows three generations with masked names', async () => {
    await openContacts(page, base, paths.case);
    const res = await clickAndWait(page, page.getByRole('link', { name: '查看传播链' }).first());
    assert.equal(res.status(), 200);
    assert.match(pathOf(page), /^\/epidemic\/cases\/\d+$/);
    chainPath = pathOf(page);
    await shot(page, 'contacts-chain-360.png');
    await reportOverflow(page, 'chain page at 360px');
    const svg = page.locator('main svg.chain');
    assert.equal(await svg.count(), 1, 'the page embeds one SVG');
    assert.equal(await svg.locator('rect').count(), 3);
    assert.equal(await svg.locator('line').count(), 2);
    const labels = (await svg.locator('text').allTextContents()).join(' | ');
    assert.ok(labels.includes('张** · 确诊') && labels.includes('李** · 密接') && labels.includes('王** · 次密接'), labels);
    const html = await page.content();
    for (const n of [CASE, CLOSE, SECOND]) assert.ok(!html.includes(n), `${n} is not on the chain page`);
    const box = await page.locator('main .chain-wrap').boundingBox();
    assert.ok(box.width <= 360, `the drawing scrolls inside its box (${box.width}px)`);
  });

  await t.test('the chain on a desktop', async () => {
    const desk = await newPage(DESKTOP);
    await logIn(desk, base, 'gridworker', PASSWORD);
    const res = await desk.goto(`${base}${chainPath}`);
    assert.equal(res.status(), 200);
    await shot(desk, 'contacts-chain-desktop.png');
    await reportOverflow(desk, 'chain page at 1280px');
    assert.equal(await desk.locator('main svg.chain rect').count(), 3);
  });
});
