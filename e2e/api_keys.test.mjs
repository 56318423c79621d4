// Browser test: Open311 API keys (接口密钥), made and revoked by an admin on a phone.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test api_keys.test.mjs
//
// - the admin opens 诉求 → 接口密钥, makes a key for 里布嘎社区: the key is shown once;
// - the key files nothing yet but reads the community's requests through Open311;
// - the admin revokes it: the list says 已吊销 and the next Open311 call is refused.
//
// Screenshots land in e2e/screenshots/api-keys-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

test('browser: an admin makes and revokes an Open311 key on a phone', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-apikeys-' });
  const base = server.base;
  const page = await newPage(PHONE);
  await logIn(page, base, 'admin', PASSWORD);
  await clickAndWait(page, page.locator('header nav a', { hasText: '诉求' }).first());
  const res = await clickAndWait(page, page.locator('main a[href="/requests/api-keys"]').first());
  assert.equal(res.status(), 200);
  assert.ok((await bodyText(page)).includes('还没有接口密钥'));

  await page.locator('details#new summary').click();
  await page.fill('input[name=name]', '12345 热线平台');
  const select = page.locator('select[name=node_id]');
  await select.selectOption(await optionValueContaining(select, '里布嘎社区'));
  await clickAndWait(page, page.locator('main button[type=submit]', { hasText: '新建密钥' }));
  assert.equal(pathOf(page), '/requests/api-keys');
  const key = (await page.locator('#new-key code.key').innerText()).trim();
  assert.ok(key.length >= 24, key);
  const row = await page.locator('#keys tbody tr').first().innerText();
  assert.ok(row.includes('12345 热线平台') && row.includes('里布嘎社区') && row.includes('有效'), row);
  await shot(page, 'api-keys-created-360.png');
  await reportOverflow(page, 'api keys at 360px');

  const read = await fetch(`${base}/open311/v2/requests.json?api_key=${key}`);
  assert.equal(read.status, 200);

  await clickAndWait(page, page.locator('#keys button', { hasText: '吊销' }).first());
  assert.ok((await bodyText(page)).includes('已吊销该密钥'));
  assert.ok((await page.locator('#keys tbody tr').first().innerText()).includes('已吊销'));
  assert.ok(!(await bodyText(page)).includes(key), 'the key is never listed');
  await shot(page, 'api-keys-revoked-360.png');
  const refused = await fetch(`${base}/open311/v2/requests.json?api_key=${key}`);
  assert.equal(refused.status, 403);
});
