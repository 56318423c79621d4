// Browser test: a checkpoint (卡点) at a compound gate, a pass, and the gate page on a phone.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli npm test
//
// staff (李秀英, bound to 里布嘎社区) registers 卓玛 in 第01网格 (康珠小区), sets up the
// checkpoint 康珠小区东门 at 第01网格 — inside the grid worker's jurisdiction — from
// 防疫 › 卡点与通行证, and issues her a pass: the code is shown large. gridworker (格桑, bound
// to 第01网格) opens the gate page on a 360×740 phone and logs 进 with the code (放行), a code
// nobody was given (refused, the value kept), 进 with 37.8 ℃ (体温异常), and a plate without a
// pass (无有效通行证).
//
// Screenshots land in e2e/screenshots/checkpoint-*.png (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, clickAndWait, logIn, logOut, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const RESIDENT = '卓玛';
const GATE = '康珠小区东门';

const submit = (page, text) =>
  page.locator('main form button[type=submit]', { hasText: text }).first();

/** Goes to /checkpoints through 防疫 › 卡点与通行证. */
async function openCheckpoints(page) {
  await clickAndWait(page, page.locator('header nav a', { hasText: '防疫' }).first());
  assert.equal(pathOf(page), '/epidemic');
  const link = page.locator('main a', { hasText: '卡点与通行证' }).first();
  assert.equal(await link.count(), 1, '/epidemic links to 卡点与通行证');
  const res = await clickAndWait(page, link);
  assert.equal(pathOf(page), '/checkpoints');
  assert.equal(res.status(), 200, '/checkpoints: HTTP status');
}

/** Types what the guard reads off a card or a car, the temperature, and presses 进 or 出. */
async function scan(page, code, temperature, direction) {
  await page.fill('form.cp-scan input[name=code]', code);
  await page.fill('form.cp-scan input[name=temperature]', temperature);
  return clickAndWait(page, page.locator(`form.cp-scan button[value=${direction}]`));
}

test('browser: staff set up a gate and issue a pass; a grid worker logs scans on a phone', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-checkpoints-' });
  const base = server.base;
  let code = null;

  await t.test('staff registers a resident, sets up the checkpoint and issues a pass', async () => {
    const page = await newPage(PHONE);
    await logIn(page, base, 'staff', PASSWORD);
    await page.goto(`${base}/persons/new`);
    const where = page.locator('select[name=node_id]');
    await where.selectOption(await optionValueContaining(where, '第01网格'));
    await page.fill('input[name=name]', RESIDENT);
    await page.fill('input[name=address]', '1栋1单元101室');
    await clickAndWait(page, submit(page, '保存'));
    assert.match(pathOf(page), /^\/persons\/\d+$/, 'the resident is registered');

    await openCheckpoints(page);
    await page.locator('summary', { hasText: '设置卡点' }).click();
    const node = page.locator('select[name=node_id]');
    await node.selectOption(await optionValueContaining(node, '第01网格'));
    await page.fill('input[name=name]', GATE);
    await shot(page, 'checkpoint-setup-360.png');
    const res = await clickAndWait(page, submit(page, '设置卡点'));
    assert.equal(res.status(), 200);
    const list = await bodyText(page);
    assert.ok(list.includes('已设置卡点') && list.includes(GATE), 'the new gate is listed');
    await shot(page, 'checkpoint-list-360.png');
    await reportOverflow(page, 'checkpoint list at 360px');

    await clickAndWait(page, page.locator('main a.pill', { hasText: '通行证' }).first());
    assert.equal(pathOf(page), '/passes');
    await page.locator('summary', { hasText: '发放通行证' }).click();
    await page.fill('form[role=search] input[name=q]', RESIDENT);
    await clickAndWait(page, submit(page, '查找'));
    await clickAndWait(page, page.locator('ul.pick a', { hasText: RESIDENT }).first());
    const passNode = page.locator('select[name=node_id]');
    await passNode.selectOption(await optionValueContaining(passNode, '第01网格'));
    await page.fill('input[name=purpose]', '住户');
    await shot(page, 'checkpoint-pass-form-360.png');
    await reportOverflow(page, 'pass form at 360px');
    const issued = await clickAndWait(page, submit(page, '发放并显示编码'));
    assert.equal(issued.status(), 200);
    assert.match(pathOf(page), /^\/passes\/\d+$/);
    code = (await page.locator('.cp-code').innerText()).trim();
    assert.match(code, /^[2-9A-HJKMNP-Z]{8}$/, `an 8-character code is shown: ${code}`);
    assert.ok((await bodyText(page)).includes(RESIDENT));
    assert.equal(await page.locator('#qr svg').count(), 1, 'the pass shows its QR code');
    await shot(page, 'checkpoint-pass-360.png');
    await reportOverflow(page, 'issued pass at 360px');
    await clickAndWait(page, page.locator('main a', { hasText: '打印通行卡' }));
    assert.match(pathOf(page), /^\/passes\/\d+\/card$/);
    assert.equal((await page.locator('#holder').innerText()).trim(), `${RESIDENT[0]}*`, 'the card masks the name');
    await shot(page, 'checkpoint-pass-card-360.png');
    await page.goto(`${base}/passes`);
    await logOut(page);
  });

  await t.test('the grid worker logs scans at the gate on a 360×740 phone', async () => {
    assert.ok(code, 'a pass was issued');
    const page = await newPage(PHONE);
    await logIn(page, base, 'gridworker', PASSWORD);
    await openCheckpoints(page);
    await clickAndWait(page, page.locator('main a', { hasText: GATE }).first());
    assert.match(pathOf(page), /^\/checkpoints\/\d+$/);
    await shot(page, 'checkpoint-gate-360.png');
    await reportOverflow(page, 'gate page at 360px');

    let res = await scan(page, code.toLowerCase(), '36.5', 'in');
    assert.equal(res.status(), 200);
    let verdict = await page.locator('.cp-verdict').innerText();
    // The guard sees only what the verdict needs: the name masked (卓玛 → 卓*).
    const masked = `${RESIDENT[0]}*`;
    assert.ok(verdict.includes('放行') && verdict.includes(masked) && !verdict.includes(RESIDENT), `allowed: ${verdict}`);
    await shot(page, 'checkpoint-allowed-360.png');
    await reportOverflow(page, 'allowed verdict at 360px');

    res = await scan(page, 'ZZZZ2222', '36.6', 'in');
    assert.equal(res.status(), 422, 'an unknown code is refused');
    const error = await page.locator('main .error').innerText();
    assert.ok(error.includes('没有这个通行证编码'), `the error says why: ${error}`);
    assert.equal(await page.inputValue('form.cp-scan input[name=code]'), 'ZZZZ2222', 'the code is kept');
    assert.equal(await page.locator('.cp-verdict').count(), 0, 'no verdict for a refused scan');
    await shot(page, 'checkpoint-bad-code-360.png');

    res = await scan(page, code, '37.8', 'in');
    assert.equal(res.status(), 200);
    verdict = await page.locator('.cp-verdict').innerText();
    assert.ok(verdict.includes('体温异常'), `fever: ${verdict}`);
    await shot(page, 'checkpoint-fever-360.png');

    res = await scan(page, '云P12345', '', 'in');
    assert.equal(res.status(), 200);
    verdict = await page.locator('.cp-verdict').innerText();
    assert.ok(verdict.includes('无有效通行证') && verdict.includes('云P12345'), `no pass: ${verdict}`);
    await shot(page, 'checkpoint-no-pass-360.png');
    await reportOverflow(page, 'no-pass verdict at 360px');

    const counts = await page.locator('ul.cp-counts').innerText();
    assert.match(counts.replace(/\s+/g, ''), /3进0出1无证1体温异常/, `today's counts: ${counts}`);
    assert.equal(await page.locator('ul.cp-log li').count(), 3, 'three scans logged today');

    // 外出登记: work travel needs a health certificate.
    await clickAndWait(page, page.locator('main a', { hasText: '卡点' }).first());
    await clickAndWait(page, page.locator('main a.pill', { hasText: '外出登记' }).first());
    assert.equal(pathOf(page), '/trips');
    await page.locator('summary', { hasText: '登记外出' }).click();
    await page.fill('form[role=search] input[name=find]', RESIDENT);
    await clickAndWait(page, submit(page, '查找'));
    await clickAndWait(page, page.locator('ul.pick a', { hasText: RESIDENT }).first());
    await page.selectOption('select[name=kind]', 'work');
    await page.fill('input[name=destination]', '昆明市官渡区');
    res = await clickAndWait(page, submit(page, '登记外出'));
    assert.equal(res.status(), 422, 'work travel without a certificate is refused');
    assert.ok((await page.locator('main .error').innerText()).includes('务工外出须持健康证明'));
    assert.equal(await page.inputValue('input[name=destination]'), '昆明市官渡区', 'the form is kept');
    await shot(page, 'checkpoint-trip-refused-360.png');
    await reportOverflow(page, 'refused trip at 360px');
    await page.check('input[name=health_certificate]');
    res = await clickAndWait(page, submit(page, '登记外出'));
    assert.equal(res.status(), 200);
    const trips = await bodyText(page);
    assert.ok(trips.includes('已登记外出') && trips.includes('昆明市官渡区'), 'the trip is listed');
    await shot(page, 'checkpoint-trips-360.png');

    // The pass's QR code carries /p/{code}: a guard's camera opens the gate with it filled in.
    res = await page.goto(`${base}/p/${code}`);
    assert.equal(res.status(), 200);
    assert.match(pathOf(page), /^\/checkpoints\/\d+$/, 'the one gate of the grid worker opens');
    assert.equal(await page.inputValue('form.cp-scan input[name=code]'), code, 'the code is filled in');
    res = await clickAndWait(page, page.locator('form.cp-scan button[value=out]'));
    assert.equal(res.status(), 200);
    verdict = await page.locator('.cp-verdict').innerText();
    assert.ok(verdict.includes('放行') && verdict.includes('出'), `out through the scanned pass: ${verdict}`);
    await shot(page, 'checkpoint-scanned-pass-360.png');
    await logOut(page);
  });
});
