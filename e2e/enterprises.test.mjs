// Browser test: enterprise reopening (企业复工复产).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test enterprises.test.mjs
//
// staff (李秀英, 里布嘎社区) opens 企业 on a desktop and sees the demo businesses with their
// standing and the counts of not-reopened reasons; registers a business — a credit code with a
// wrong check character first, refused under the field with the form filled back — and gets
// the business's public application link. The business opens that link on a phone without
// logging in, sees only its own name, ticks the four conditions and applies. staff opens the
// business's page, sees the application pending and approves it; the business's link then
// says 已复工.
//
// Screenshots land in e2e/screenshots/enterprises-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, DESKTOP, logIn, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

// GB 32100-2015: 31 characters, weights 3^(i-1) mod 31, C18 = 31 − (Σ mod 31), 31 → 0.
const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

function creditCheck(body17) {
  let sum = 0;
  let w = 1;
  for (const c of body17) {
    sum += ALPHABET.indexOf(c) * w;
    w = (w * 3) % 31;
  }
  return ALPHABET[(31 - (sum % 31)) % 31];
}

const BODY = '91533401MA6KE2E2E';
const CODE = BODY + creditCheck(BODY);
const WRONG = BODY + (CODE.endsWith('0') ? '1' : '0');
const NAME = '香格里拉市松赞林文化旅游有限公司';

const submit = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

test('browser: staff register a business, it applies through its link on a phone, staff approve', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-enterprises-' });
  const base = server.base;
  let link = '';
  let staffPage = null;

  await t.test('staff see the list with counts and register a business', async () => {
    const page = await newPage(DESKTOP);
    staffPage = page;
    const res = await logIn(page, base, 'staff', PASSWORD);
    assert.equal(res.status(), 200, 'staff login: HTTP status');
    const nav = page.locator('header nav a', { hasText: '企业' }).first();
    assert.equal(await nav.count(), 1, 'the header has a 企业 link');
    await clickAndWait(page, nav);
    assert.equal(pathOf(page), '/enterprises');
    await shot(page, 'enterprises-list-desktop.png');
    const list = await bodyText(page);
    assert.ok(list.includes('香格里拉市格桑商贸有限公司'), 'the demo businesses are listed');
    assert.ok(list.includes('已复工') && list.includes('待审核') && list.includes('未复工'), 'with their standing');
    assert.ok(list.includes('员工未返岗'), 'and the reasons of those not reopened');
    assert.ok(list.includes('申请未通过'), 'and why a rejected application was refused');

    await clickAndWait(page, page.getByRole('link', { name: '登记企业' }).first());
    assert.equal(pathOf(page), '/enterprises/new');
    const select = page.locator('select[name=node_id]');
    await select.selectOption(await optionValueContaining(select, '第01网格'));
    await page.fill('input[name=name]', NAME);
    await page.fill('input[name=credit_code]', WRONG.toLowerCase());
    await page.fill('input[name=employees]', '52');
    await page.fill('input[name=contact_name]', '洛桑');
    await page.fill('input[name=contact_phone]', '139 8887 0002');
    const refused = await clickAndWait(page, submit(page, '登记'));
    await shot(page, 'enterprises-register-refused-desktop.png');
    assert.equal(refused.status(), 422, 'a wrong check character answers 422');
    const errors = (await page.locator('main [role=alert]').allInnerTexts()).join('\n');
    assert.ok(errors.includes('校验位'), `the error says what is wrong: ${errors}`);
    assert.equal(await page.inputValue('input[name=name]'), NAME, 'the name comes back');
    assert.equal(await page.locator('input[name=credit_code][aria-invalid=true]').count(), 1, 'the code field is marked');

    await page.fill('input[name=credit_code]', CODE.toLowerCase());
    const done = await clickAndWait(page, submit(page, '登记'));
    assert.equal(done.status(), 200, 'registered: HTTP status');
    await shot(page, 'enterprises-registered-desktop.png');
    const text = await bodyText(page);
    assert.ok(text.includes(CODE), 'the code is stored normalised');
    assert.ok(text.includes('139****0002'), 'the phone is masked');
    assert.ok(!text.includes('13988870002'), 'and never shown whole');
    link = (await page.locator('#application-link').innerText()).trim();
    assert.match(link, /\/e\/[2-9A-HJKMNP-Z]{12}$/, 'the public link is shown, short enough to type');
  });

  await t.test('the business applies through its link on a phone, without logging in', async () => {
    const page = await newPage(PHONE);
    const res = await page.goto(link);
    assert.equal(res.status(), 200, 'the public form: HTTP status');
    await shot(page, 'enterprises-public-form-360.png');
    await reportOverflow(page, 'public reopening form at 360px');
    const text = await bodyText(page);
    assert.ok(text.includes(NAME), 'the form names the business');
    for (const hidden of ['第01网格', '里布嘎社区', CODE, '139****0002', '洛桑']) {
      assert.ok(!text.includes(hidden), `the public form does not show ${hidden}`);
    }
    for (const item of ['thermometers', 'disinfection', 'masks', 'staff_registration']) {
      await page.check(`input[name=checked][value=${item}]`);
    }
    await page.fill('textarea[name=extra_items]', '设置临时隔离观察室');
    await page.fill('input[name=employees_back]', '48');
    const sent = await clickAndWait(page, submit(page, '提交复工申请'));
    assert.equal(sent.status(), 200, 'submitted: HTTP status');
    await shot(page, 'enterprises-public-submitted-360.png');
    assert.ok((await bodyText(page)).includes('已提交'), 'the receipt is shown');
  });

  await t.test('staff approve the application', async () => {
    const page = staffPage;
    await page.goto(`${base}/enterprises`);
    await clickAndWait(page, page.getByRole('link', { name: NAME }).first());
    await shot(page, 'enterprises-pending-desktop.png');
    const text = await bodyText(page);
    assert.ok(text.includes('待审核的复工申请'), 'the application waits');
    assert.ok(text.includes('企业通过链接提交'), 'it came through the link');
    assert.ok(text.includes('设置临时隔离观察室'), 'with the business\'s own measure');
    await page.fill('form.decision input[name=reason]', '四项条件齐备，同意复工');
    const done = await clickAndWait(page, page.locator('form.decision button[value=approve]'));
    assert.equal(done.status(), 200, 'after approving: HTTP status');
    await shot(page, 'enterprises-approved-desktop.png');
    const after = await bodyText(page);
    assert.ok(after.includes('已同意复工'), 'the notice is shown');
    assert.ok(after.includes('记录复工检查'), 'inspections may now be recorded');
  });

  await t.test('the link now says the business has reopened; the list on a phone', async () => {
    const page = await newPage(PHONE);
    await page.goto(link);
    assert.ok((await bodyText(page)).includes('已复工'), 'the link shows the approval');
    await shot(page, 'enterprises-public-reopened-360.png');
    const res = await logIn(page, base, 'staff', PASSWORD);
    assert.equal(res.status(), 200);
    await page.goto(`${base}/enterprises`);
    await shot(page, 'enterprises-list-360.png');
    await reportOverflow(page, 'enterprise list at 360px');
    await clickAndWait(page, page.getByRole('link', { name: NAME }).first());
    await shot(page, 'enterprises-enterprise-360.png');
    await reportOverflow(page, 'enterprise page at 360px');
    assert.ok((await bodyText(page)).includes('四项条件齐备，同意复工'), 'the decision\'s reason is kept');

    // The contact phone is revealed deliberately (audited) on the phone.
    assert.ok(!(await bodyText(page)).includes('13988870002'), 'masked until asked');
    const shown = await clickAndWait(page, page.locator('main form button', { hasText: '查看完整号码' }).first());
    assert.equal(shown.status(), 200, 'unmask: HTTP status');
    const text = await bodyText(page);
    assert.ok(text.includes('13988870002'), 'the whole number is shown');
    assert.ok(text.includes('记入审计日志'), 'and the reveal is said to be audited');
    await shot(page, 'enterprises-unmasked-360.png');
    await reportOverflow(page, 'enterprise unmasked at 360px');
  });
});
