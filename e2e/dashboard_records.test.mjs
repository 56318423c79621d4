// Browser test: the counted numbers on the home dashboard and a person's other records, on a
// phone (issue 19).
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test dashboard_records.test.mjs
//
// Served as of 2020-02-10 (the demo's outbreak). staff (bound to 里布嘎社区) sees the community's card with its counted persons, households
// (the grids' estimate beside them), 人户一致率 and rooms; opens an arrival of the demo's
// history, goes to the person, and finds that arrival among their 其他记录 with a link back.
// Screenshots land in e2e/screenshots/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

// Served as of a day of the demo's 2020 history, so its arrivals are not yet anonymised.
process.env.LINLI_AS_OF = '2020-02-10';

test('browser: dashboard numbers and a person\'s other records, on a phone', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-records-' });
  const base = server.base;
  const page = await newPage(PHONE);
  const res = await logIn(page, base, 'staff', PASSWORD);
  assert.equal(res.status(), 200);

  // The card of the community: counted numbers, the estimate beside the households.
  await page.goto(`${base}/`);
  const card = page.locator('main li.card[data-root]').first();
  const facts = card.locator('[data-registry]');
  const persons = (await facts.locator('[data-fact="persons"]').innerText()).trim();
  const m = persons.match(/^人口：(\d+) 人$/);
  assert.ok(m && Number(m[1]) > 0, `counted persons: ${persons}`);
  const households = (await facts.locator('[data-fact="households"]').innerText()).trim();
  assert.match(households, /^户数：\d+ 户（网格估计 \d+ 户）$/);
  assert.match((await facts.locator('[data-fact="consistency"]').innerText()).trim(), /^人户一致率：(\d+\.\d%|—)$/);
  const rooms = (await facts.locator('[data-fact="dwellings"]').innerText()).trim();
  const r = rooms.match(/^房屋：有人居住 (\d+) \/ 共 (\d+) 套$/);
  assert.ok(r && Number(r[1]) <= Number(r[2]) && Number(r[2]) > 0, rooms);
  // The node page counts the same persons.
  const nodeHref = await card.locator('a.title').getAttribute('href');
  await reportOverflow(page, 'home');
  await shot(page, 'records-1-home.png');
  await page.goto(`${base}${nodeHref}`);
  assert.match(await bodyText(page), new RegExp(`登记人口\\s*${m[1]} 人`), 'the node page states the same count');

  // An arrival of the demo's history → its person → 其他记录 lists it, linked.
  await page.goto(`${base}/epidemic/arrivals/1`);
  assert.match(pathOf(page), /^\/epidemic\/arrivals\/1$/);
  await clickAndWait(page, page.locator('h1 a[href^="/persons/"]'));
  assert.match(pathOf(page), /^\/persons\/\d+$/);
  const records = page.locator('main ul.records li');
  assert.ok((await records.count()) > 0, await bodyText(page));
  const arrival = page.locator('main ul.records li[data-record="抵达登记"] a[href="/epidemic/arrivals/1"]');
  assert.equal(await arrival.count(), 1, 'the arrival is listed with its link');
  const days = await records.locator('span.muted').allInnerTexts();
  const dates = days.map((d) => d.slice(0, 10));
  assert.deepEqual(dates, [...dates].sort().reverse(), 'newest first');
  await arrival.scrollIntoViewIfNeeded();
  await reportOverflow(page, 'person page');
  await shot(page, 'records-2-person.png');
  await clickAndWait(page, arrival);
  assert.equal(pathOf(page), '/epidemic/arrivals/1');
});
