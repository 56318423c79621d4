// Browser test: other offices' layouts (表样, collect once, fill many).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test report_mappings.test.mjs
//
// - the admin, on a 360×740 phone, opens 报表模板 and edits the health bureau's layout: a new
//   column without an indicator comes back refused beside it with the form kept; with its
//   indicator it is published as version 2 from tomorrow (version 1 stays in force today);
//   then a new layout for the street office (街道办) is created from the template's columns,
//   effective today;
// - staff of 里布嘎社区 (李秀英) report their disinfection rounds, then open both print views
//   from the report page: the bureau's headings, a total row, units, printed by; on the phone
//   and as printed on A4.
//
// Screenshots land in e2e/screenshots/mappings-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DESKTOP, PASSWORD, PHONE, SHOTS, bodyText, clickAndWait, logIn, logOut, pathOf, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const button = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

/** The index of the last column of the mapping form (its empty new column). */
async function lastColumn(page) {
  return Number(await page.inputValue('input[name=cols]')) - 1;
}

test('browser: the admin edits layouts on a phone, staff print the report in them', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-mappings-' });
  const base = server.base;

  await t.test('the admin publishes a new version of the bureau layout on a phone', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'admin', PASSWORD);
    const res = await page.goto(`${base}/reports/templates#mappings`);
    assert.equal(res.status(), 200);
    const section = page.locator('section#m-health-bureau-daily');
    assert.equal(await section.count(), 1, 'the bureau layout is listed');
    await shot(page, 'mappings-list-360.png');

    await clickAndWait(page, section.locator('a', { hasText: '编辑' }));
    assert.equal(pathOf(page), '/reports/mappings/health-bureau-daily/edit');
    assert.equal(await page.inputValue('input[name=name]'), '疫情防控每日统计表');
    assert.equal(await page.inputValue('input[name="c0.header"]'), '发热病人（未处置）');
    await shot(page, 'mappings-edit-360.png');
    await page.screenshot({ path: join(SHOTS, 'mappings-edit-top-360.png') });
    await reportOverflow(page, 'mapping editor at 360px');

    // A new column with a heading but no indicator: refused beside it, the heading kept.
    const n = await lastColumn(page);
    await page.fill(`input[name="c${n}.header"]`, '当日漏报打卡');
    await page.fill(`input[name="c${n}.unit"]`, '次');
    const refused = await clickAndWait(page, button(page, '发布新版本'));
    assert.equal(refused.status(), 422);
    let text = await bodyText(page);
    assert.ok(text.includes('没有指定取数的指标'), 'the fault is named');
    assert.ok(text.includes(`第 ${n + 1} 列（当日漏报打卡）`), 'the column is named');
    assert.equal(await page.inputValue(`input[name="c${n}.header"]`), '当日漏报打卡', 'the form is kept');
    const bad = page.locator('li.map-row.bad');
    assert.equal(await bad.count(), 1, 'the column is marked');
    await bad.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'mappings-refused-360.png') });

    // Its indicator chosen, moved to second place; published from tomorrow.
    await page.selectOption(`select[name="c${n}.s0"]`, 'checkins_missed');
    await page.fill(`input[name="c${n}.pos"]`, '2');
    const done = await clickAndWait(page, button(page, '发布新版本'));
    assert.equal(done.status(), 200);
    assert.equal(pathOf(page), '/reports/templates');
    text = await bodyText(page);
    assert.ok(text.includes('已发布第 2 版'), 'the notice');
    const versions = await section.innerText();
    assert.ok(versions.includes('待生效') && versions.includes('现行'), 'v2 waits, v1 in force');
    assert.ok(versions.includes('当日漏报打卡'), 'the new column is listed');
    await section.scrollIntoViewIfNeeded();
    await shot(page, 'mappings-published-360.png');
    await reportOverflow(page, 'template list at 360px');
  });

  await t.test('the admin creates a layout for the street office on a phone', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'admin', PASSWORD);
    await page.goto(`${base}/reports/templates`);
    await clickAndWait(page, page.locator('main a', { hasText: '新建表样' }));
    assert.equal(pathOf(page), '/reports/mappings/new');
    assert.equal(await page.inputValue('input[name="c0.header"]'), '当日新增来返人员', 'starts from the template');
    await page.fill('input[name=key]', 'street-daily');
    await page.fill('input[name=name]', '街道疫情日报汇总表');
    await page.fill('input[name=office]', '街道办');
    await page.fill('input[name=unit_header]', '社区');
    // Keep the first three columns and the disinfection rounds; a sum of both quarantines.
    const cols = await lastColumn(page);
    for (let i = 3; i < cols; i += 1) {
      const key = await page.inputValue(`select[name="c${i}.s0"]`);
      if (key !== 'disinfection_rounds') await page.check(`input[name="c${i}.remove"]`);
    }
    await page.fill(`input[name="c${cols}.header"]`, '隔离合计');
    await page.selectOption(`select[name="c${cols}.s0"]`, 'under_centralized_quarantine');
    // A second indicator to add takes one round trip (no JavaScript): 增加 returns the form
    // as typed with one more 「加上」 choice on the column.
    const more = await clickAndWait(page, button(page, '增加一列'));
    assert.equal(more.status(), 200);
    assert.equal(await page.inputValue(`input[name="c${cols}.header"]`), '隔离合计', 'the form is kept');
    await page.selectOption(`select[name="c${cols}.s1"]`, 'under_home_quarantine');
    await shot(page, 'mappings-new-360.png');
    await page.screenshot({ path: join(SHOTS, 'mappings-new-top-360.png') });
    await page.locator(`input[name="c${cols}.header"]`).scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'mappings-new-sum-360.png') });
    await reportOverflow(page, 'new mapping at 360px');
    const done = await clickAndWait(page, button(page, '发布表样'));
    assert.equal(done.status(), 200, await bodyText(page));
    assert.equal(pathOf(page), '/reports/templates');
    const section = page.locator('section#m-street-daily');
    const text = await section.innerText();
    assert.ok(text.includes('街道办'), 'the new layout is listed');
    assert.ok(text.includes(' + '), 'the sum column');
    await logOut(page);
  });

  await t.test('staff print the report in both layouts', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await page.goto(`${base}/reports`);
    await page.fill('input[name="m.disinfection_rounds"]', '4');
    const filed = await clickAndWait(page, button(page, '报送'));
    assert.equal(filed.status(), 200);

    const link = page.locator('main a', { hasText: '按卫健局表样打印' });
    assert.equal(await link.count(), 1, 'the print link');
    assert.equal(await page.locator('main a', { hasText: '按卫健局表样导出' }).count(), 1, 'and the workbook');
    await clickAndWait(page, link);
    assert.equal(pathOf(page), '/reports/print/mapped');
    let text = await bodyText(page);
    assert.ok(text.includes('里布嘎社区疫情防控每日统计表'), 'the bureau\'s title');
    assert.ok(text.includes('发热病人（未处置）') && text.includes('其中：居家隔离'), 'its headings');
    assert.ok(!text.includes('当日漏报打卡'), 'today is still version 1');
    assert.ok(text.includes('合计') && text.includes('（人）'), 'the total row and units');
    assert.ok(text.includes('打印：李秀英'), 'printed by');
    // The total row adds up the rows, column by column (the remarks column aside).
    const sums = await page.evaluate(() => {
      const num = (td) => Number(td.textContent.trim() || 0);
      const body = [...document.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')]);
      const foot = [...document.querySelectorAll('tfoot td')];
      return foot.slice(2).map((td, i) => ({ total: td.textContent.trim(), sum: body.reduce((s, r) => s + num(r[2 + i]), 0) }));
    });
    for (const { total, sum } of sums) {
      if (/^\d+$/.test(total)) assert.equal(Number(total), sum);
    }
    assert.ok(sums.some(({ total }) => total === '4'), 'the disinfection rounds');
    await shot(page, 'mappings-print-360.png');

    await page.goBack();
    await clickAndWait(page, page.locator('main a', { hasText: '按街道办表样打印' }));
    text = await bodyText(page);
    assert.ok(text.includes('里布嘎社区街道疫情日报汇总表'));
    assert.ok(text.includes('隔离合计'));
    await shot(page, 'mappings-print-street-360.png');
    await page.goto(`${base}/reports`);
    await logOut(page);

    // The same page at A4 landscape width, as printed.
    const desk = await newPage(DESKTOP);
    await logIn(desk, base, 'staff', PASSWORD);
    await desk.goto(`${base}/reports`);
    await clickAndWait(desk, desk.locator('main a', { hasText: '按卫健局表样打印' }));
    await desk.setViewportSize({ width: 1123, height: 794 });
    await desk.emulateMedia({ media: 'print' });
    assert.equal(await desk.locator('.noprint').isVisible(), false, 'the back link is not printed');
    await shot(desk, 'mappings-print-a4.png');
    const pdf = await desk.pdf({ format: 'A4', landscape: true });
    assert.ok(pdf.length > 1000, 'prints to a PDF');
  });
});
