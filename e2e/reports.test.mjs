// Browser test: daily reports (报表).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test reports.test.mjs
//
// The demo holds one community (里布嘎社区), whose enterprises had their reopening approved today,
// so its records show events and a zero report is refused. The admin adds two communities under
// 建塘镇 through the API: 达瓦社区 (with a staff account, nothing on record) and 金龙社区 (nobody
// reports for it). Then:
// - staff of 里布嘎社区 (李秀英) open 报表 on a 360×740 phone, try 零报告 (refused, naming the
//   indicator), and report with the disinfection rounds filled in;
// - staff of 达瓦社区 (扎西) file a zero report on the phone;
// - the street official (和丽华) sees the completeness (3 expected, 2 reported, 金龙社区
//   missing), reminds 金龙社区, returns 里布嘎社区's report with a reason (退回: then 1 reported),
//   approves 达瓦社区, and opens the print view and the trend chart;
// - the admin, on a 360 px phone, opens 报表模板, edits the template: a bad deadline comes back
//   with the reason beside the field and the form kept; 17:00 from tomorrow is published as
//   version 2; the street's 「按卫健局表样导出」 link gives the health bureau's workbook.
//
// Screenshots land in e2e/screenshots/reports-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PASSWORD, PHONE, bodyText, chinaToday, clickAndWait, logIn, logOut, optionValueContaining, pathOf, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

/** Goes to /reports through the header link 报表. */
async function openReports(page) {
  const link = page.locator('header nav a', { hasText: '报表' }).first();
  assert.equal(await link.count(), 1, 'the header should have a 报表 link');
  const res = await clickAndWait(page, link);
  assert.equal(pathOf(page), '/reports', '报表 should open /reports');
  assert.equal(res.status(), 200, '/reports: HTTP status');
}

const button = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

test('browser: a community files a zero report, the street sees completeness and approves', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-reports-' });
  const base = server.base;

  await t.test('the admin adds two communities and a staff account', async () => {
    const admin = await newPage(DESKTOP);
    await logIn(admin, base, 'admin', PASSWORD);
    const api = admin.request;
    const roots = await (await api.get(`${base}/api/v1/nodes`)).json();
    const city = roots.find((n) => n.name === '香格里拉市');
    const streets = await (await api.get(`${base}/api/v1/nodes/${city.id}/children`)).json();
    const street = streets.items.find((n) => n.name === '建塘镇');
    const dawa = await api.post(`${base}/api/v1/nodes`, {
      data: { parent_id: street.id, kind: 'community', name: '达瓦社区', code: `${street.code}004` },
    });
    assert.equal(dawa.status(), 201, `create 达瓦社区: ${await dawa.text()}`);
    const jinlong = await api.post(`${base}/api/v1/nodes`, {
      data: { parent_id: street.id, kind: 'community', name: '金龙社区', code: `${street.code}005` },
    });
    assert.equal(jinlong.status(), 201, `create 金龙社区: ${await jinlong.text()}`);
    const user = await api.post(`${base}/api/v1/users`, {
      data: {
        username: 'dawa', password: PASSWORD, role: 'staff', display_name: '扎西',
        node_ids: [(await dawa.json()).id],
      },
    });
    assert.equal(user.status(), 201, `create dawa: ${await user.text()}`);
    await logOut(admin);
  });

  await t.test('staff of 里布嘎社区: a zero report is refused on a day with events, a report is filed', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await openReports(page);
    await shot(page, 'reports-community-360.png');
    await reportOverflow(page, 'report at 360px');
    let text = await bodyText(page);
    assert.ok(text.includes('疫情防控日报表'), 'the template is named');
    assert.ok(text.includes('里布嘎社区'), 'the viewer\'s community');
    assert.ok(text.includes('未报送'), 'nothing filed yet');

    // A returnee arrives in 第01网格 today: the day has an event.
    await page.goto(`${base}/persons/new`);
    const grid = Number(await optionValueContaining(page.locator('select[name=node_id]'), '第01网格'));
    const arrived = await page.request.post(`${base}/api/v1/arrivals`, {
      data: { person: { node_id: grid, name: '达娃卓玛', address: '3栋1单元101室' }, origin_code: '530102', arrived_on: chinaToday() },
    });
    assert.equal(arrived.status(), 201, await arrived.text());
    await openReports(page);
    const refused = await clickAndWait(page, button(page, '零报告'));
    assert.equal(refused.status(), 422, 'a zero report on a day with events is refused');
    await shot(page, 'reports-zero-refused-360.png');
    text = await bodyText(page);
    assert.ok(text.includes('不能报零报告'), 'the refusal says why');
    assert.ok(text.includes('当日新增来返人员'), 'the refusal names the indicator');

    await page.fill('input[name="m.disinfection_rounds"]', '2');
    await page.fill('textarea[name="m.notes"]', '复工企业已逐户检查');
    const done = await clickAndWait(page, button(page, '报送'));
    assert.equal(done.status(), 200);
    text = await bodyText(page);
    assert.ok(text.includes('已报送'), 'the report is filed');
    await shot(page, 'reports-submitted-360.png');
    await logOut(page);
  });

  await t.test('staff of 达瓦社区 file a zero report on the phone', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'dawa', PASSWORD);
    await openReports(page);
    assert.ok((await bodyText(page)).includes('达瓦社区'));
    const done = await clickAndWait(page, button(page, '零报告'));
    assert.equal(done.status(), 200, 'a quiet day takes a zero report');
    const text = await bodyText(page);
    assert.ok(text.includes('已报送零报告'), 'the notice is shown');
    assert.ok(text.includes('零报告'), 'the zero badge is shown');
    await shot(page, 'reports-zero-360.png');
    await reportOverflow(page, 'zero report at 360px');
    await logOut(page);
  });

  await t.test('the street official sees completeness, reminds, approves, prints and charts', async () => {
    const page = await newPage(DESKTOP);
    await logIn(page, base, 'official', PASSWORD);
    await openReports(page);
    let text = await bodyText(page);
    assert.ok(text.includes('建塘镇'), 'the official\'s street');
    const complete = page.locator('#completeness');
    assert.match(await complete.innerText(), /应报\s*3/);
    assert.match(await complete.innerText(), /已报\s*2/);
    assert.match(await complete.innerText(), /零报告\s*1/);
    assert.ok((await complete.innerText()).includes('金龙社区'), 'the missing community is listed');
    await shot(page, 'reports-street-1280.png');

    const remind = complete.locator('li', { hasText: '金龙社区' }).locator('button', { hasText: '提醒' });
    const reminded = await clickAndWait(page, remind);
    assert.equal(reminded.status(), 200);
    text = await bodyText(page);
    assert.ok(text.includes('已发送提醒'), 'the reminder notice');
    assert.ok(text.includes('已提醒 1 次'), 'the reminder is counted');

    // 里布嘎社区's report goes back with a reason (退回); its page says why, it counts as missing.
    await clickAndWait(page, page.locator('table.rep-children a', { hasText: '里布嘎社区' }));
    await page.locator('#return-report summary').click();
    await page.fill('#return-report textarea[name=reason]', '消杀次数与台账不符，请核对后重报');
    const returned = await clickAndWait(page, page.locator('#return-report button[type=submit]'));
    assert.equal(returned.status(), 200);
    assert.ok((await page.locator('#returned').innerText()).includes('消杀次数与台账不符'));
    assert.ok((await bodyText(page)).includes('已退回'), 'the badge');
    await shot(page, 'reports-returned-1280.png');
    await clickAndWait(page, page.locator('.crumbs a', { hasText: '建塘镇' }));
    assert.match(await page.locator('#completeness').innerText(), /已报\s*1/);

    // The street's own report waits for its communities; 达瓦社区 is approved from its page.
    await clickAndWait(page, page.locator('table.rep-children a', { hasText: '达瓦社区' }));
    assert.ok((await bodyText(page)).includes('零报告'));
    const approved = await clickAndWait(page, button(page, '审核通过'));
    assert.equal(approved.status(), 200);
    text = await bodyText(page);
    assert.ok(text.includes('已审核'), 'approved and locked');
    assert.equal(await page.locator('form[action="/reports/submit"]').count(), 0, 'no submit form for an official');
    await shot(page, 'reports-approved-1280.png');

    // Back to the street: the row shows the approval; the print view and the trend chart.
    await clickAndWait(page, page.locator('.crumbs a', { hasText: '建塘镇' }));
    const row = page.locator('table.rep-children tr', { hasText: '达瓦社区' });
    assert.ok((await row.innerText()).includes('已审核'));
    await clickAndWait(page, page.locator('main a', { hasText: '打印' }).first());
    assert.equal(pathOf(page), '/reports/print');
    text = await bodyText(page);
    assert.ok(text.includes('建塘镇疫情防控日报表'), 'the print title');
    assert.ok(text.includes('合计'), 'the total row');
    await shot(page, 'reports-print-1280.png');
    await page.goBack();
    await clickAndWait(page, page.locator('main a', { hasText: '趋势图' }).first());
    assert.equal(pathOf(page), '/reports/trend');
    assert.equal(await page.locator('svg.trend polyline').count(), 1, 'a line is drawn');
    await page.selectOption('select[name=indicator]', 'enterprises_reopened');
    await clickAndWait(page, button(page, '查看'));
    assert.ok((await bodyText(page)).includes('当日批准复工企业'));
    await shot(page, 'reports-trend-1280.png');
    await logOut(page);
  });

  await t.test('the street on a phone', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'official', PASSWORD);
    await openReports(page);
    await shot(page, 'reports-street-360.png');
    await reportOverflow(page, 'street report at 360px');
    await clickAndWait(page, page.locator('main a', { hasText: '趋势图' }).first());
    await shot(page, 'reports-trend-360.png');
    await reportOverflow(page, 'trend at 360px');
    await logOut(page);
  });
  await t.test('the admin edits the deadline on a phone; the health bureau layout exports', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'admin', PASSWORD);
    const res = await page.goto(`${base}/reports/templates`);
    assert.equal(res.status(), 200);
    let text = await bodyText(page);
    assert.ok(text.includes('第 1 版'), 'the version list');
    assert.ok(text.includes('疫情防控每日统计表'), 'the health bureau layout is listed');
    await shot(page, 'reports-templates-360.png');
    await reportOverflow(page, 'template list at 360px');

    await clickAndWait(page, page.locator('main a', { hasText: '编辑' }).first());
    assert.equal(pathOf(page), '/reports/templates/epidemic-daily/edit');
    assert.equal(await page.inputValue('input[name=deadline]'), '16:00');
    await shot(page, 'reports-template-edit-360.png');
    await reportOverflow(page, 'template editor at 360px');

    // A bad deadline: refused beside the field, the typed indicator kept.
    await page.fill('input[name=deadline]', '17:6');
    await page.fill('input[name="r10.label"]', '在岗志愿者');
    const refused = await clickAndWait(page, button(page, '发布新版本'));
    assert.equal(refused.status(), 422);
    text = await bodyText(page);
    assert.ok(text.includes('不是有效的截止时间'), 'the deadline fault is named');
    assert.equal(await page.inputValue('input[name="r10.label"]'), '在岗志愿者', 'the form is kept');
    await shot(page, 'reports-template-refused-360.png');

    await page.fill('input[name=deadline]', '17:00');
    const done = await clickAndWait(page, button(page, '发布新版本'));
    assert.equal(done.status(), 200);
    assert.equal(pathOf(page), '/reports/templates');
    text = await bodyText(page);
    assert.ok(text.includes('已发布第 2 版'), 'the notice');
    assert.ok(text.includes('待生效'), 'version 2 waits for its date');
    await shot(page, 'reports-template-published-360.png');

    // The street's report offers the bureau's layout; the workbook downloads.
    const roots = await (await page.request.get(`${base}/api/v1/nodes`)).json();
    const city = roots.find((n) => n.name === '香格里拉市');
    const streets = await (await page.request.get(`${base}/api/v1/nodes/${city.id}/children`)).json();
    const street = streets.items.find((n) => n.name === '建塘镇');
    await page.goto(`${base}/reports?node_id=${street.id}`);
    const link = page.locator('main a', { hasText: '按卫健局表样导出' });
    assert.equal(await link.count(), 1, 'the export link');
    const xlsx = await page.request.get(new URL(await link.getAttribute('href'), base).toString());
    assert.equal(xlsx.status(), 200);
    assert.equal(xlsx.headers()['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    await logOut(page);
  });
});
