// Browser test: the key-group list (重点人群) on a 360 px phone, as the community's staff.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test key_groups.test.mjs
//
// staff (李秀英, 里布嘎社区) adds a building 99栋 and registers four residents there through the
// API: 欧阳春 turning 60 today, 欧阳夏 turning 60 tomorrow, 欧阳秋 at 75 (all three 独居老人) and
// 欧阳冬 at 80 without a tag. The building's page links its 独居老人 figure to the filtered list
// (3 people); 年龄自 60 narrows it to 欧阳春 and 欧阳秋. Screenshots land in e2e/screenshots/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const TAG = '独居老人';

/** `YYYY-MM-DD` of the day `years` years before today in China, moved by `days`. */
function bornBefore(years, days = 0) {
  const now = new Date(Date.now() + 8 * 3600 * 1000);
  const d = new Date(Date.UTC(now.getUTCFullYear() - years, now.getUTCMonth(), now.getUTCDate() + days));
  return d.toISOString().slice(0, 10);
}

test('browser: the key-group list filtered by 独居老人 and age at 360 px', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-keygroups-' });
  const base = server.base;
  const page = await newPage(PHONE);

  const res = await logIn(page, base, 'staff', PASSWORD);
  assert.equal(res.status(), 200, 'staff login: HTTP status');

  // The residents, through the API on the same session.
  const api = page.context().request;
  const roots = await (await api.get(`${base}/api/v1/nodes`)).json();
  const community = roots.find((n) => n.name === '里布嘎社区');
  assert.ok(community, `staff's jurisdiction: ${JSON.stringify(roots)}`);
  const made = await api.post(`${base}/api/v1/nodes`, {
    data: { parent_id: community.id, kind: 'building', name: '99栋' },
  });
  assert.equal(made.status(), 201, await made.text());
  const building = await made.json();
  const residents = [
    ['欧阳春', bornBefore(60), [TAG]],
    ['欧阳夏', bornBefore(60, 1), [TAG]],
    ['欧阳秋', bornBefore(75), [TAG]],
    ['欧阳冬', bornBefore(80), []],
  ];
  for (const [name, birth_date, tags] of residents) {
    const r = await api.post(`${base}/api/v1/persons`, {
      data: { node_id: building.id, name, birth_date, category: 'registered', tags },
    });
    assert.equal(r.status(), 201, `${name}: ${await r.text()}`);
  }

  await t.test('the building page links its key group to the list', async () => {
    const r = await page.goto(`${base}/nodes/${building.id}`);
    assert.equal(r.status(), 200);
    const link = page.locator('main a', { hasText: `${TAG} 3` });
    assert.equal(await link.count(), 1, `the node page should show ${TAG} 3: ${await bodyText(page)}`);
    await clickAndWait(page, link);
    assert.equal(pathOf(page), '/persons');
    await shot(page, 'key-groups-tag-360.png');
    const text = await bodyText(page);
    assert.ok(text.includes(`重点人群 · ${TAG}`), text);
    assert.ok(text.includes('共 3 人'), text);
  });

  await t.test('年龄自 60 keeps those 60 and over, the one turning 60 today included', async () => {
    await page.fill('input[name=min_age]', '60');
    const r = await clickAndWait(page, page.locator('#roll-filters button[type=submit]'));
    assert.equal(r.status(), 200);
    await shot(page, 'key-groups-60-360.png');
    await reportOverflow(page, 'key-group list at 360px');
    const text = await bodyText(page);
    assert.ok(text.includes('共 2 人'), text);
    const names = await page.locator('#roll tbody td[data-label=姓名] a').allInnerTexts();
    assert.deepEqual(names, ['欧阳春', '欧阳秋']);
    const ages = await page.locator('#roll tbody td[data-label=年龄]').allInnerTexts();
    assert.deepEqual(ages.map((a) => a.replace(/^年龄：/, '').trim()), ['60 岁', '75 岁']);
    // The filters stay as chosen on the page that answers.
    assert.equal(await page.inputValue('input[name=min_age]'), '60');
    assert.equal(await page.inputValue('select[name=tag]'), TAG);
    assert.equal(await page.inputValue('select[name=node_id]'), String(building.id));
  });
});
