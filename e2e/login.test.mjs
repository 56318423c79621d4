// Browser test: the real `linli` server on a demo data dir, driven by Debian's headless Chromium.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli npm test
//
// Screenshots land in e2e/screenshots/ (gitignored) so a person can look at what users see.
// Server, browser and login helpers are shared with the other tests in helpers.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PASSWORD, PHONE, bodyText, clickAndWait, logIn, logOut, openLogin, pathOf, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

// ---------------------------------------------------------------- tree helper

/** Follows the node link whose text contains `name`, failing with the links that were there. */
async function followNode(page, name) {
  const link = page.locator('a[href^="/nodes/"]', { hasText: name }).first();
  if ((await link.count()) === 0) {
    const seen = await page.locator('a[href^="/nodes/"]').allInnerTexts();
    assert.fail(`no link to ${name} on ${page.url()}; node links there: ${JSON.stringify(seen)}`);
  }
  const res = await clickAndWait(page, link);
  assert.equal(res.status(), 200, `${name}: HTTP status`);
  assert.match(pathOf(page), /^\/nodes\//, `${name}: should be a node page`);
  assert.ok((await bodyText(page)).includes(name), `${name}: its page should name it`);
  return res;
}

// ---------------------------------------------------------------- the test

test('browser: login, home, tree navigation, wrong password, logout', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t);

  // Screenshots are taken before the text checks so a failing page can still be looked at.
  await t.test('grid worker on a phone logs in and sees home', async () => {
    const page = await newPage(PHONE);
    await openLogin(page, server.base);
    await reportOverflow(page, 'login at 360px');
    const res = await logIn(page, server.base, 'gridworker', PASSWORD);
    await shot(page, 'home-gridworker-360.png');
    await reportOverflow(page, 'grid worker home at 360px');
    assert.equal(pathOf(page), '/', 'after login the grid worker should land on /');
    assert.equal(res.status(), 200, 'home: HTTP status');
    const body = await bodyText(page);
    // A grid worker's home is the day's to-do of their grid (shell.test.mjs checks its counts).
    assert.ok(body.includes('今日待办'), "the grid worker's home should say 今日待办");
    assert.ok(body.includes('退出'), 'home should offer 退出');
    assert.ok(body.includes('第01网格'), "the grid worker's home should name their grid");
    await page.context().close();
  });

  await t.test('a wrong password is refused with 401 and a message', async () => {
    const page = await newPage(PHONE);
    const res = await logIn(page, server.base, 'gridworker', 'not-the-password');
    await shot(page, 'login-failed-360.png');
    await reportOverflow(page, 'failed login at 360px');
    assert.equal(res.status(), 401, 'a failed login answers 401');
    assert.equal(pathOf(page), '/login', 'a failed login stays on /login');
    assert.ok((await bodyText(page)).includes('用户名或密码错误'), 'the page says 用户名或密码错误');
    assert.equal(await page.locator('input[name=password]').count(), 1, 'the form is shown again');
    await page.context().close();
  });

  await t.test('admin on a desktop walks the tree down to the community and logs out', async () => {
    const page = await newPage(DESKTOP);
    const res = await logIn(page, server.base, 'admin', PASSWORD);
    await shot(page, 'home-admin-1280.png');
    assert.equal(pathOf(page), '/', 'after login the admin should land on /');
    assert.equal(res.status(), 200, 'home: HTTP status');
    const home = await bodyText(page);
    assert.ok(home.includes('首页') && home.includes('退出'), 'home should say 首页 and offer 退出');

    // The first node link on the home page opens a node page.
    const first = page.locator('a[href^="/nodes/"]').first();
    assert.ok((await first.count()) > 0, 'the admin home should link to at least one node');
    const nodeRes = await clickAndWait(page, first);
    await shot(page, 'node-admin-1280.png');
    assert.equal(nodeRes.status(), 200, 'first node page: HTTP status');

    // From home, down the demo tree by name.
    await page.goto(`${server.base}/`);
    await followNode(page, '香格里拉市');
    await followNode(page, '建塘镇');
    await followNode(page, '里布嘎社区');
    await shot(page, 'node-community-1280.png');
    assert.ok((await bodyText(page)).includes('网格'), 'the community page should list its 网格');
    const grids = await page.locator('a[href^="/nodes/"]', { hasText: '网格' }).count();
    assert.ok(grids > 0, 'the community page should link to its grids');

    await logOut(page);
    // The session is gone: home redirects to the login page again.
    await page.goto(`${server.base}/`);
    assert.equal(pathOf(page), '/login', 'after logout / should redirect to /login');
    await page.context().close();
  });
});
