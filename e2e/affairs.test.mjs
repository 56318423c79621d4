// Browser test: notices and 居务公开, and the community's public page, on phones (360 px).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test affairs.test.mjs
//
// staff (李秀英, 里布嘎社区) opens 公开 on a 360×740 phone, publishes a public notice, then a
// 居务公开 entry with a PDF attachment — a text file named .pdf first,
// refused by its bytes with the form filled back — saves it as a draft and publishes it. staff
// makes the community's public code and opens its poster. A resident opens /c/{code} on a
// phone without logging in, reads the notice and the entry, and downloads the PDF.
//
// Screenshots land in e2e/screenshots/affairs-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const NOTICE = '12月10日小区停水通知';
const ENTRY = '2026年第三季度财务收支';

/** Opens 公开 in the header, then one of its tabs. */
async function openTab(page, tab) {
  await clickAndWait(page, page.locator('header nav a', { hasText: '公开' }).first());
  if (tab !== '通知公告') {
    await clickAndWait(page, page.locator('a.pill', { hasText: tab }).first());
  }
}

const submit = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

test('browser: staff publish a notice and an affairs entry with a PDF, a resident reads them on the public page', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-affairs-' });
  const base = server.base;
  let link = '';

  const staff = await newPage(PHONE);

  await t.test('staff publish a public notice', async () => {
    const res = await logIn(staff, base, 'staff', PASSWORD);
    assert.equal(res.status(), 200, 'staff login: HTTP status');
    const nav = staff.locator('header nav a', { hasText: '公开' }).first();
    assert.equal(await nav.count(), 1, 'the header has a 公开 link');
    await clickAndWait(staff, nav);
    assert.equal(pathOf(staff), '/notices');
    await clickAndWait(staff, staff.getByRole('link', { name: '发布通知' }).first());
    assert.equal(pathOf(staff), '/notices/new');
    await staff.fill('input[name=title]', NOTICE);
    await staff.fill('textarea[name=body]', '因管网检修，12月10日 8:00—18:00 康珠小区停水。\n\n请提前储水，不便之处敬请谅解。');
    await shot(staff, 'affairs-notice-form-360.png');
    await reportOverflow(staff, 'notice form at 360px');
    const done = await clickAndWait(staff, submit(staff, '发布'));
    assert.equal(done.status(), 200, 'published: HTTP status');
    assert.match(pathOf(staff), /^\/notices\/\d+$/);
    const text = await bodyText(staff);
    assert.ok(text.includes(NOTICE) && text.includes('请提前储水'), 'the notice is shown, both paragraphs');
    assert.ok(text.includes('公开（社区公开页可见）'), 'as public');
    assert.ok(text.includes('李秀英'), 'with the author by name');
    await shot(staff, 'affairs-notice-360.png');
  });

  await t.test('staff write an affairs entry with a PDF and publish it', async () => {
    await openTab(staff, '居务公开');
    assert.equal(pathOf(staff), '/affairs');
    await clickAndWait(staff, staff.getByRole('link', { name: '新建公开条目' }).first());
    await staff.selectOption('select[name=category]', 'finance');
    await staff.fill('input[name=title]', ENTRY);
    await staff.fill('textarea[name=body]', '本季度收入 12,000 元，支出 8,500 元，明细见附件。');
    await staff.fill('input[name=period_from]', '2026-07-01');
    await staff.fill('input[name=period_until]', '2026-09-30');
    // A text file named .pdf: refused by its bytes, the form filled back.
    await staff.setInputFiles('input[name=attachment]', { name: '明细.pdf', mimeType: 'application/pdf', buffer: Buffer.from('not a pdf at all') });
    const refused = await clickAndWait(staff, submit(staff, '存为草稿'));
    assert.equal(refused.status(), 422, 'a file that is no PDF answers 422');
    const errors = (await staff.locator('main [role=alert]').allInnerTexts()).join('\n');
    assert.ok(errors.includes('附件只能是 PDF、PNG 或 JPEG'), `the error says why: ${errors}`);
    assert.equal(await staff.inputValue('input[name=title]'), ENTRY, 'the title comes back');
    await shot(staff, 'affairs-entry-refused-360.png');

    await staff.setInputFiles('input[name=attachment]', { name: '三季度收支明细.pdf', mimeType: 'application/pdf', buffer: PDF });
    const saved = await clickAndWait(staff, submit(staff, '存为草稿'));
    assert.equal(saved.status(), 200, 'draft saved: HTTP status');
    assert.match(pathOf(staff), /^\/affairs\/\d+$/);
    let text = await bodyText(staff);
    assert.ok(text.includes('草稿') && text.includes('三季度收支明细.pdf'), 'a draft with its attachment');
    await shot(staff, 'affairs-entry-draft-360.png');
    await reportOverflow(staff, 'entry page at 360px');
    const published = await clickAndWait(staff, submit(staff, '公开'));
    assert.equal(published.status(), 200, 'published: HTTP status');
    text = await bodyText(staff);
    assert.ok(text.includes('已公开') && text.includes('不能修改或删除'), 'published for good');
    assert.equal(await staff.locator('form[action$="/publish"]').count(), 0, 'no publish button any more');
    assert.equal(await staff.locator('input[type=file]').count(), 0, 'no more attachments');
    assert.equal(await staff.getByRole('link', { name: '发布更正' }).count(), 1, 'only a correction is offered');
    await shot(staff, 'affairs-entry-published-360.png');
  });

  await t.test('staff make the community page code and its poster', async () => {
    await openTab(staff, '社区公开页');
    assert.equal(pathOf(staff), '/affairs/page');
    await clickAndWait(staff, submit(staff, '生成公开码'));
    const text = await bodyText(staff);
    assert.ok(text.includes('已生成公开码'), 'the notice is shown');
    link = await staff.locator('#public-url a').getAttribute('href');
    assert.match(link, /\/c\/[2-9A-HJKMNP-Z]{10}$/, 'the link carries a short code a person can type');
    await shot(staff, 'affairs-page-settings-360.png');
    await clickAndWait(staff, staff.getByRole('link', { name: '打印张贴海报' }).first());
    assert.equal((await staff.locator('.print-url').innerText()).trim(), link, 'the poster shows the address');
    assert.equal(await staff.locator('#qr svg').count(), 1, 'and its QR code');
    await shot(staff, 'affairs-poster-360.png');
  });

  await t.test('a resident reads the public page on a phone and downloads the PDF', async () => {
    const phone = await newPage(PHONE);
    const res = await phone.goto(link);
    assert.equal(res.status(), 200, 'the public page: HTTP status');
    assert.equal(await phone.locator('header nav').count(), 0, 'no app navigation on the public page');
    const text = await bodyText(phone);
    assert.ok(text.includes('里布嘎社区'), 'the page names the community');
    assert.ok(text.includes(NOTICE) && text.includes('请提前储水'), 'the notice is there');
    assert.ok(text.includes(ENTRY) && text.includes('财务收支'), 'the entry is there with its category');
    assert.ok(text.includes('2026-07-01 至 2026-09-30'), 'with its period');
    assert.ok(!text.includes('李秀英'), 'no names of people');
    await shot(phone, 'affairs-public-360.png');
    await reportOverflow(phone, 'public page at 360px');
    const href = await phone.getByRole('link', { name: '三季度收支明细.pdf' }).getAttribute('href');
    const file = await phone.request.get(new URL(href, link).toString());
    assert.equal(file.status(), 200, 'the attachment downloads');
    assert.equal(file.headers()['content-type'], 'application/pdf');
    assert.deepEqual(Buffer.from(await file.body()), PDF, 'byte for byte');
  });
});
