// Browser test: arrival screening (三问一测) on a phone, after an official declares a risk area.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli npm test
//
// official (和丽华, bound to 建塘镇) declares 武汉市洪山区 (420111) a high-risk area for July
// 2022 on a phone, typing the place by name (武汉洪山). gridworker (格桑, bound to 第01网格) opens
// 防疫 on a 360×740 phone, screens a resident arriving from there on 2022-07-05 — a wrong origin
// code first, refused with the form filled back; then the place picker: the script suggests
// places as a name is typed, and 「hongshan」 (洪山区 in Wuhan, 红山区 in Chifeng) is answered with
// both to choose from — and reads the result: 集中隔离, 7 days, and the explanation to read
// aloud, naming the place.
// The policies page renders the rules in Chinese. The official then drafts a 9th edition with
// 5 days for high-risk arrivals and tries it (试算): 王五 would be shortened by two days.
//
// Screenshots land in e2e/screenshots/epidemic-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, idCheck, logIn, logOut, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const ID_BODY = '53340119900815002';
const ID = ID_BODY + idCheck(ID_BODY);
const NAME = '王五';

/** Goes to /epidemic through the header link 防疫. */
async function openEpidemic(page) {
  const link = page.locator('header nav a', { hasText: '防疫' }).first();
  assert.equal(await link.count(), 1, 'the header should have a 防疫 link');
  const res = await clickAndWait(page, link);
  assert.equal(pathOf(page), '/epidemic', '防疫 should open /epidemic');
  assert.equal(res.status(), 200, '/epidemic: HTTP status');
}

const submit = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

test('browser: an official declares a high-risk area, a grid worker screens an arrival from it on a phone', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-epidemic-' });
  const base = server.base;

  await t.test('official declares 420111 a high-risk area', async () => {
    const page = await newPage(PHONE);
    const res = await logIn(page, base, 'official', PASSWORD);
    assert.equal(res.status(), 200, 'official login: HTTP status');
    await openEpidemic(page);
    await clickAndWait(page, page.locator('main a[href="/epidemic/risk-areas"]').first());
    assert.equal(pathOf(page), '/epidemic/risk-areas');
    await page.locator('summary', { hasText: '发布风险地区' }).click();
    await page.fill('input[name=division_code]', '武汉洪山');
    await page.selectOption('select[name=level]', 'high');
    await page.fill('input[name=from]', '2022-07-01');
    await page.fill('input[name=to]', '2022-07-20');
    await shot(page, 'epidemic-area-form-360.png');
    await reportOverflow(page, 'risk-area form at 360px');
    const done = await clickAndWait(page, submit(page, '发布'));
    await shot(page, 'epidemic-areas-official-360.png');
    assert.equal(done.status(), 200, 'after publishing: HTTP status');
    assert.equal(pathOf(page), '/epidemic/risk-areas');
    const text = await bodyText(page);
    assert.ok(text.includes('已发布风险地区'), 'the notice is shown');
    assert.ok(text.includes('湖北省武汉市洪山区') && text.includes('高风险'), 'the area is listed by name with its level');
    assert.ok(text.includes('代码 420111'), 'and its code');
    assert.ok(text.includes('2022-07-01 至 2022-07-20'), 'with its dates');
    await logOut(page);
  });

  await t.test('grid worker screens an arrival from it on a phone and reads the explanation', async () => {
    const page = await newPage(PHONE);
    const res = await logIn(page, base, 'gridworker', PASSWORD);
    assert.equal(res.status(), 200, 'gridworker login: HTTP status');
    await openEpidemic(page);
    await shot(page, 'epidemic-home-360.png');
    await reportOverflow(page, 'epidemic summary at 360px');
    assert.ok((await bodyText(page)).includes('第01网格'), 'the summary names the worker\'s area');

    // The staff-only area form is not offered to a grid worker.
    await page.goto(`${base}/epidemic/risk-areas`);
    assert.equal(await page.locator('form[action="/epidemic/risk-areas"]').count(), 0, 'no area form for a grid worker');
    await shot(page, 'epidemic-areas-360.png');
    await reportOverflow(page, 'risk areas at 360px');
    await openEpidemic(page);

    const formRes = await clickAndWait(page, page.getByRole('link', { name: /登记来返人员/ }).first());
    assert.equal(pathOf(page), '/epidemic/arrivals/new');
    assert.equal(formRes.status(), 200, 'the screening form: HTTP status');
    await shot(page, 'epidemic-form-360.png');
    await reportOverflow(page, 'screening form at 360px');

    const select = page.locator('select[name=node_id]');
    await select.selectOption(await optionValueContaining(select, '第01网格'));
    await page.fill('input[name=name]', NAME);
    await page.fill('input[name=id_number]', ID);
    await page.fill('input[name=address]', '5栋1单元302室');
    await page.fill('input[name=origin_code]', '4201');
    await page.fill('input[name=arrived_on]', '2022-07-05');
    await page.fill('input[name=purpose]', '返岗');
    await page.fill('input[name=temperature]', '36.6');

    // A code that is no division code comes back with the message, the form filled.
    const refused = await clickAndWait(page, submit(page, '登记并判定'));
    await shot(page, 'epidemic-form-refused-360.png');
    assert.equal(refused.status(), 422, 'a bad origin code answers 422');
    const errors = (await page.locator('main [role=alert]').allInnerTexts()).join('\n');
    assert.ok(errors.includes('来源地：「4201」'), `the error names the field: ${errors}`);
    assert.equal(await page.inputValue('input[name=name]'), NAME, 'the name comes back');
    assert.equal(await page.inputValue('input[name=temperature]'), '36.6', 'the temperature comes back');

    // The picker: with the script, typing a name fills the suggestions from /api/v1/places
    // (without it, the provinces and prefectures are listed and a name typed is resolved on
    // submit).
    const origin = page.locator('input[name=origin_code]');
    await origin.fill('');
    await origin.pressSequentially('武汉洪', { delay: 30 });
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#places-origin_code option')].some((o) => o.value === '湖北省武汉市洪山区（420111）'),
    null, { timeout: 10_000 });
    // Pinyin shared by two districts: both are offered, nothing is guessed.
    await origin.fill('hongshan');
    const ambiguous = await clickAndWait(page, submit(page, '登记并判定'));
    assert.equal(ambiguous.status(), 422, 'an ambiguous place answers 422');
    const said = (await page.locator('main [role=alert]').allInnerTexts()).join('\n');
    assert.ok(said.includes('「hongshan」有 2 处'), `the candidates are named: ${said}`);
    const pick = page.locator('fieldset.place-pick');
    assert.equal(await pick.locator('input[type=radio]').count(), 2, 'two places to choose from');
    await pick.scrollIntoViewIfNeeded();
    await shot(page, 'epidemic-place-picker-360.png');
    await reportOverflow(page, 'place picker at 360px');
    await pick.getByLabel('湖北省武汉市洪山区（420111）').check();
    const done = await clickAndWait(page, submit(page, '登记并判定'));
    await shot(page, 'epidemic-result-360.png');
    await reportOverflow(page, 'screening result at 360px');
    assert.equal(done.status(), 200, 'the result: HTTP status');
    assert.match(pathOf(page), /^\/epidemic\/arrivals\/\d+$/, 'redirected to the stored screening');
    // A reload shows the stored result again (post/redirect/get: nothing is posted twice).
    const reloaded = await page.reload({ waitUntil: 'load' });
    assert.equal(reloaded.status(), 200, 'reloaded result: HTTP status');
    const measure = (await page.locator('.verdict-box .measure').innerText()).trim();
    assert.equal(measure, '集中隔离', 'a high-risk origin means centralised quarantine');
    const days = await page.locator('.verdict-box .days').innerText();
    const dates = await page.locator('.verdict-box .dates').innerText();
    assert.equal(days.trim(), '7 天', '7 days');
    assert.equal(dates.trim(), '2022-07-05 至 2022-07-11', 'from the arrival to 2022-07-11');
    const explanation = await page.locator('section.explain p').innerText();
    console.log(`explanation: ${explanation}`);
    assert.ok(explanation.includes('从湖北省武汉市洪山区抵达'), 'the explanation names the place');
    assert.ok(!explanation.includes('420111'), 'by its name, not its code');
    assert.ok((await bodyText(page)).includes('湖北省武汉市洪山区（420111）'), 'the facts keep the code beside the name');
    assert.ok(explanation.includes('高风险'), 'and its level');
    assert.ok(explanation.includes('第九版'), 'and the policy version');
    const text = await bodyText(page);
    assert.ok(text.includes(NAME), 'the result names the person');
    assert.ok(!text.includes(ID), 'the full ID number is not shown');

    await page.goto(`${base}/epidemic/policies`);
    await shot(page, 'epidemic-policies-360.png');
    await reportOverflow(page, 'policies at 360px');
    const policies = await bodyText(page);
    assert.ok(policies.includes('集中隔离 7 天'), 'the rules are rendered readably');
  });
  await t.test('an official reads the dashboard rolled up the tree and drills down on a phone', async () => {
    const page = await newPage(PHONE);
    const res = await logIn(page, base, 'official', PASSWORD);
    assert.equal(res.status(), 200, 'official login: HTTP status');
    await openEpidemic(page);
    const street = await bodyText(page);
    assert.ok(street.includes('疫情看板 · 建塘镇'), 'the dashboard opens on the official\'s street');
    // The screening above is under observation in 里布嘎社区: the street counts it.
    const row = page.locator('table.epi-dash tbody a', { hasText: '里布嘎社区' }).first();
    assert.equal(await row.count(), 1, 'a row for the community');
    await clickAndWait(page, row);
    assert.equal(pathOf(page), '/epidemic');
    const text = await bodyText(page);
    assert.ok(text.includes('疫情看板 · 里布嘎社区'), 'drilled down to the community');
    assert.ok(text.includes('本级直属') && text.includes('合计'), 'direct records and the total');
    assert.ok(text.includes('上级：建塘镇'), 'a link back up');
    const observed = Number((await page.locator('.epi-dash ul.epi-tiles li:nth-child(2) .n').innerText()).trim());
    assert.ok(observed >= 1, `the screened arrival is under observation (${observed})`);
    await shot(page, 'epidemic-dashboard-360.png');
    await reportOverflow(page, 'epidemic dashboard at 360px');
    // The tile opens the list of people under observation, grouped by where they live.
    await clickAndWait(page, page.locator('.epi-dash ul.epi-tiles li:nth-child(2) a'));
    assert.equal(pathOf(page), '/epidemic/observations');
    const person = page.locator('ul.observations li', { hasText: NAME }).first();
    const line = await person.innerText();
    assert.ok(line.includes('集中隔离') && line.includes('第 7 / 7 天') && line.includes('今日打卡 0/0'), `the person's line: ${line}`);
    assert.ok((await page.locator('h2.group').first().innerText()).includes('第01网格'), 'grouped by grid');
    await shot(page, 'epidemic-observations-360.png');
    await reportOverflow(page, 'observations at 360px');
    await logOut(page);
  });
  await t.test('an official drafts a shorter 9th edition and tries it before publishing', async () => {
    const page = await newPage(PHONE);
    const res = await logIn(page, base, 'official', PASSWORD);
    assert.equal(res.status(), 200, 'official login: HTTP status');
    await page.goto(`${base}/epidemic/policies`);
    // The 9th edition's card offers to start a new version from it.
    const card = page.locator('section.policy', { hasText: '第九版' }).first();
    const edit = card.getByRole('link', { name: '以此为底稿编辑' });
    assert.equal(await edit.count(), 1, 'an edit link on the 9th edition');
    const form = await clickAndWait(page, edit);
    assert.equal(form.status(), 200, 'the editor: HTTP status');
    assert.equal(pathOf(page), '/epidemic/policies/edit');
    await shot(page, 'epidemic-policy-edit-360.png');
    await reportOverflow(page, 'policy editor at 360px');
    // High-risk arrivals: 7 → 5 days; compared on 2022-07-08, while 王五 (07-05) is still in.
    assert.equal(await page.inputValue('input[name=days_2_0]'), '7');
    await page.fill('input[name=days_2_0]', '5');
    await page.fill('input[name=on]', '2022-07-08');
    const tried = await clickAndWait(page, submit(page, '试算影响'));
    assert.equal(tried.status(), 200, 'the what-if: HTTP status');
    const result = page.locator('section.whatif');
    assert.equal(await result.count(), 1, 'the what-if result is shown');
    const row = result.locator('tbody tr', { hasText: NAME }).first();
    assert.equal(await row.count(), 1, `${NAME} is among the people compared`);
    const change = (await row.locator('.change').innerText()).trim();
    assert.equal(change, '缩短', 'a 5-day rule shortens the 7-day quarantine');
    assert.ok((await row.innerText()).includes('-2 天'), 'by two days');
    await result.scrollIntoViewIfNeeded();
    await shot(page, 'epidemic-policy-whatif-360.png');
    await reportOverflow(page, 'policy what-if at 360px');
    await logOut(page);
  });
});
