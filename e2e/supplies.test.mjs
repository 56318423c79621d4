// Browser test: emergency supplies (物资) on a phone.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test supplies.test.mjs
//
// The demo seeds a street reserve (建塘镇应急物资储备库), the community's store (里布嘎社区物资点,
// below its mask threshold) and a compound's cabinet (康珠小区物资柜). The demo holds one
// community; the test adds a second one (达瓦社区, with its own store) through the API as admin:
// - staff (李秀英, 里布嘎社区) opens 物资 on a 360×740 phone, sees the low stock, issues more
//   masks than the store holds (refused, the form filled back), then issues 50; sends 100 masks
//   to 康珠小区物资柜 and receives them there;
// - official (和丽华, 建塘镇) sends 500 masks from the street reserve to the community's store;
//   staff receives them and the store is no longer low;
// - staff request 300 N95 masks from the street; the official approves 200 and fulfils them from
//   the reserve;
// - admin creates 达瓦社区 under 建塘镇 and its store 达瓦社区物资点 (API, admin's session);
//   staff of 里布嘎社区 transfer 80 masks there and admin receives them on that site's page;
//   admin then adds an item (隔离衣) on the stock page.
//
// Screenshots land in e2e/screenshots/supplies-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, logOut, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

/** Goes to /supplies through the header link 物资. */
async function openSupplies(page) {
  const link = page.locator('header nav a', { hasText: '物资' }).first();
  assert.equal(await link.count(), 1, 'the header should have a 物资 link');
  const res = await clickAndWait(page, link);
  assert.equal(pathOf(page), '/supplies', '物资 should open /supplies');
  assert.equal(res.status(), 200, '/supplies: HTTP status');
}

/** The mask row of the stock table, as text. */
async function masksRow(page) {
  return page.locator('ul.stock li', { hasText: '医用外科口罩' }).first().innerText();
}

const submit = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

test('browser: staff issue stock and transfer it, an official supplies the community from the reserve', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-supplies-' });
  const base = server.base;

  await t.test('staff see the community stock, low stock marked', async () => {
    const page = await newPage(PHONE);
    const res = await logIn(page, base, 'staff', PASSWORD);
    assert.equal(res.status(), 200, 'staff login: HTTP status');
    await openSupplies(page);
    await shot(page, 'supplies-stock-360.png');
    await reportOverflow(page, 'supplies stock at 360px');
    const text = await bodyText(page);
    assert.ok(text.includes('里布嘎社区'), 'the stock names the viewer\'s node');
    assert.ok(text.includes('低于预警下限'), 'low stock is announced');
    // 900 in the store + 200 in the compound's cabinet.
    assert.ok((await masksRow(page)).includes('1100'), 'masks summed over the subtree');
    await logOut(page);
  });

  await t.test('staff issue masks: too many refused, then 50 recorded', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await openSupplies(page);
    await clickAndWait(page, page.locator('main a', { hasText: '里布嘎社区物资点' }).first());
    assert.match(pathOf(page), /^\/supplies\/sites\/\d+$/);
    const items = page.locator('#entry select[name=item_id]');
    await page.selectOption('#entry select[name=kind]', 'issue');
    await items.selectOption(await optionValueContaining(items, '医用外科口罩'));
    await page.fill('#entry input[name=quantity]', '5000');
    await page.fill('#entry input[name=note]', '发放给网格员');
    const refused = await clickAndWait(page, submit(page, '记账'));
    assert.equal(refused.status(), 409, 'an issue beyond the balance is refused');
    await shot(page, 'supplies-issue-refused-360.png');
    const text = await bodyText(page);
    assert.ok(text.includes('库存不足：现有 900'), 'the refusal says what is on hand');
    assert.equal(await page.inputValue('#entry input[name=quantity]'), '5000', 'the form is filled back');
    assert.equal(await page.inputValue('#entry select[name=kind]'), 'issue');

    await page.fill('#entry input[name=quantity]', '50');
    const done = await clickAndWait(page, submit(page, '记账'));
    assert.equal(done.status(), 200);
    await shot(page, 'supplies-site-360.png');
    await reportOverflow(page, 'supplies site at 360px');
    const after = await bodyText(page);
    assert.ok(after.includes('已记账'), 'the notice is shown');
    assert.ok((await masksRow(page)).includes('850'), 'the balance is 850');
    assert.ok(after.includes('-50 只'), 'the ledger shows the issue');
    await logOut(page);
  });

  await t.test('staff send 100 masks to the compound cabinet and receive them there', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await openSupplies(page);
    await clickAndWait(page, page.locator('main a', { hasText: '里布嘎社区物资点' }).first());
    await page.locator('summary', { hasText: '调出物资' }).click();
    const to = page.locator('#transfer select[name=to_site_id]');
    await to.selectOption(await optionValueContaining(to, '康珠小区物资柜'));
    const items = page.locator('#transfer select[name=item_id]');
    await items.selectOption(await optionValueContaining(items, '医用外科口罩'));
    await page.fill('#transfer input[name=quantity]', '100');
    await page.fill('#transfer input[name=note]', '康珠小区隔离户增多');
    await shot(page, 'supplies-transfer-form-360.png');
    const sent = await clickAndWait(page, submit(page, '发出调拨'));
    assert.equal(sent.status(), 200);
    const text = await bodyText(page);
    assert.ok(text.includes('已发出调拨'), 'the notice is shown');
    assert.ok((await masksRow(page)).includes('750'), 'the masks left the store');

    await openSupplies(page);
    assert.ok((await bodyText(page)).includes('在途'), 'the transfer is in transit');
    await shot(page, 'supplies-in-transit-360.png');
    const receive = page.locator('ul.transfers li', { hasText: '康珠小区物资柜' })
      .locator('button', { hasText: '确认接收' }).first();
    const received = await clickAndWait(page, receive);
    assert.equal(received.status(), 200);
    assert.ok((await bodyText(page)).includes('已确认接收'), 'the notice is shown');
    // Moved inside the community: its total is unchanged.
    assert.ok((await masksRow(page)).includes('1050'), 'the community total is kept');
    await shot(page, 'supplies-received-360.png');
    await logOut(page);
  });

  await t.test('an official sends 500 masks from the street reserve; staff receive them', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'official', PASSWORD);
    await openSupplies(page);
    await clickAndWait(page, page.locator('main a', { hasText: '建塘镇应急物资储备库' }).first());
    assert.equal(await page.locator('#entry').count(), 0, 'an official keeps no ledger');
    // The allocation suggestion is offered for the reserve (no one is under observation in the
    // demo, so every shortfall is 0).
    await clickAndWait(page, page.locator('main a', { hasText: '按需分配' }).first());
    assert.match(pathOf(page), /\/allocate$/);
    assert.ok((await bodyText(page)).includes('里布嘎社区'), 'the community is a recipient');
    await shot(page, 'supplies-allocate-360.png');
    await reportOverflow(page, 'allocation at 360px');
    await page.goBack();
    await page.locator('summary', { hasText: '调出物资' }).click();
    const to = page.locator('#transfer select[name=to_site_id]');
    await to.selectOption(await optionValueContaining(to, '里布嘎社区物资点'));
    const items = page.locator('#transfer select[name=item_id]');
    await items.selectOption(await optionValueContaining(items, '医用外科口罩'));
    await page.fill('#transfer input[name=quantity]', '500');
    const sent = await clickAndWait(page, submit(page, '发出调拨'));
    assert.equal(sent.status(), 200);
    await shot(page, 'supplies-reserve-official-360.png');
    await reportOverflow(page, 'reserve site at 360px');
    await logOut(page);

    const staff = await newPage(PHONE);
    await logIn(staff, base, 'staff', PASSWORD);
    await openSupplies(staff);
    const receive = staff.locator('ul.transfers li', { hasText: '建塘镇应急物资储备库' })
      .locator('button', { hasText: '确认接收' }).first();
    await clickAndWait(staff, receive);
    const text = await bodyText(staff);
    assert.ok(text.includes('已确认接收'));
    assert.ok(!text.includes('低于预警下限'), 'the store is no longer low');
    assert.ok((await masksRow(staff)).includes('1550'), '1050 + 500');
    await shot(staff, 'supplies-after-reserve-360.png');
    await logOut(staff);
  });

  await t.test('staff request N95 masks from the street; the official approves and fulfils it', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await openSupplies(page);
    await clickAndWait(page, page.locator('main a', { hasText: '里布嘎社区物资点' }).first());
    await page.locator('summary', { hasText: '向街道申领' }).click();
    const item = page.locator('#request select[name=item]').first();
    await item.selectOption(await optionValueContaining(item, 'N95口罩'));
    await page.locator('#request input[name=q]').first().fill('300');
    await page.fill('#request input[name=note]', '隔离户增多');
    await shot(page, 'supplies-request-form-360.png');
    await clickAndWait(page, page.locator('#request button', { hasText: '提交街道' }));
    assert.equal(pathOf(page), '/supplies/requests');
    assert.ok((await bodyText(page)).includes('已提交街道'), 'the notice is shown');
    await logOut(page);

    const official = await newPage(PHONE);
    await logIn(official, base, 'official', PASSWORD);
    await official.goto(`${base}/supplies/requests`);
    assert.ok((await bodyText(official)).includes('申领 300'));
    await official.locator('form.req-form input[name=q]').first().fill('200');
    await clickAndWait(official, official.locator('form.req-form button', { hasText: '审批' }).first());
    assert.ok((await bodyText(official)).includes('已审批'));
    await clickAndWait(official, official.locator('form.req-form button', { hasText: '发放' }).first());
    const text = await bodyText(official);
    assert.ok(text.includes('已发放') && text.includes('已发 200'), 'fulfilled from the reserve');
    await shot(official, 'supplies-requests-360.png');
    await reportOverflow(official, 'requests at 360px');
    await logOut(official);
  });
  await t.test('a transfer between two communities: 里布嘎社区 → a new 达瓦社区, received there', async () => {
    // The admin adds the second community and its store through the JSON API, with the browser
    // session (the demo keeps one community on purpose).
    const admin = await newPage(PHONE);
    await logIn(admin, base, 'admin', PASSWORD);
    const api = admin.request;
    const roots = await (await api.get(`${base}/api/v1/nodes`)).json();
    const city = roots.find((n) => n.name === '香格里拉市');
    assert.ok(city, 'the district is a root');
    const streets = await (await api.get(`${base}/api/v1/nodes/${city.id}/children`)).json();
    const street = streets.items.find((n) => n.name === '建塘镇');
    assert.ok(street, '建塘镇 is below the district');
    const created = await api.post(`${base}/api/v1/nodes`, {
      data: { parent_id: street.id, kind: 'community', name: '达瓦社区', code: `${street.code}004` },
    });
    assert.equal(created.status(), 201, `create community: ${await created.text()}`);
    const community = await created.json();
    const siteRes = await api.post(`${base}/api/v1/supplies/sites`, {
      data: { node_id: community.id, name: '达瓦社区物资点' },
    });
    assert.equal(siteRes.status(), 201, `create site: ${await siteRes.text()}`);
    const { id: siteId } = await siteRes.json();

    const staff = await newPage(PHONE);
    await logIn(staff, base, 'staff', PASSWORD);
    await openSupplies(staff);
    await clickAndWait(staff, staff.locator('main a', { hasText: '里布嘎社区物资点' }).first());
    const before = await masksRow(staff);
    await staff.locator('summary', { hasText: '调出物资' }).click();
    const to = staff.locator('#transfer select[name=to_site_id]');
    await to.selectOption(await optionValueContaining(to, '达瓦社区物资点'));
    const items = staff.locator('#transfer select[name=item_id]');
    await items.selectOption(await optionValueContaining(items, '医用外科口罩'));
    await staff.fill('#transfer input[name=quantity]', '80');
    await staff.fill('#transfer input[name=note]', '支援达瓦社区');
    await shot(staff, 'supplies-intercommunity-form-360.png');
    const sent = await clickAndWait(staff, submit(staff, '发出调拨'));
    assert.equal(sent.status(), 200);
    assert.ok((await bodyText(staff)).includes('已发出调拨'), 'the notice is shown');
    const held = (row) => Number(row.match(/(\d+)/)?.[1]);
    assert.equal(held(await masksRow(staff)), held(before) - 80, 'the masks left 里布嘎社区物资点');
    await shot(staff, 'supplies-intercommunity-sent-360.png');
    await logOut(staff);

    await admin.goto(`${base}/supplies/sites/${siteId}`);
    assert.ok((await bodyText(admin)).includes('在途'), 'the transfer is in transit to 达瓦社区');
    const receive = admin.locator('ul.transfers li', { hasText: '里布嘎社区物资点' })
      .locator('button', { hasText: '确认接收' }).first();
    const received = await clickAndWait(admin, receive);
    assert.equal(received.status(), 200);
    const text = await bodyText(admin);
    // A site page shows no notice: the transfer is done and its button gone.
    assert.ok(text.includes('达瓦社区物资点'), 'back on the receiving site\'s page');
    assert.equal(await admin.locator('ul.transfers button', { hasText: '确认接收' }).count(), 0,
      'nothing left to receive');
    assert.ok((await masksRow(admin)).includes('80'), '80 masks arrived at 达瓦社区物资点');
    await shot(admin, 'supplies-intercommunity-received-360.png');
    await reportOverflow(admin, 'receiving site at 360px');

    // The admin adds an item to the catalogue on the stock page.
    await openSupplies(admin);
    await admin.locator('summary', { hasText: '新增物资品类' }).click();
    await admin.fill('#item input[name=name]', '隔离衣');
    await admin.fill('#item input[name=unit]', '件');
    await admin.selectOption('#item select[name=category]', 'protective');
    await admin.fill('#item input[name=shelf_life_days]', '730');
    await shot(admin, 'supplies-item-form-360.png');
    await reportOverflow(admin, 'item form at 360px');
    const added = await clickAndWait(admin, admin.locator('#item button', { hasText: '新增' }));
    assert.equal(added.status(), 200);
    assert.ok((await bodyText(admin)).includes('已新增物资品类'), 'the notice is shown');
    await logOut(admin);
  });
});
