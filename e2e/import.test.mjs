// Browser test: the roster import on the web, on a desktop and on a phone.
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli npm test
//
// staff (李秀英, bound to 里布嘎社区) opens 导入花名册 from 居民, uploads the shared fixture
// roster.gbk.csv (300 people, GBK, 10 planted rejects) into 里布嘎社区, sees the preview with
// 10 rejected rows and the 确认导入 button held back until 部分导入 is ticked, confirms, and
// follows the progress page to the result. The rejected rows download as an xlsx. On a phone
// the same file again is all duplicates: nothing new is stored.
//
// Screenshots land in e2e/screenshots/ (gitignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bodyText, clickAndWait, DESKTOP, idCheck, logIn, optionValueContaining, PASSWORD, pathOf, PHONE, reportOverflow, shot, skipWithoutChromium, startStack } from './helpers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROSTER = join(HERE, '../../shared/fixtures/roster.gbk.csv');
const COMMUNITY = '里布嘎社区';

/** The number on the count tile labelled `label` (exactly), or null. */
async function tile(page, label) {
  const tiles = await page.locator('ul.counts li').evaluateAll((els) =>
    els.map((li) => ({
      n: li.querySelector('.n')?.textContent.trim(),
      label: li.querySelector('.label')?.textContent.trim(),
    })));
  const hit = tiles.find((t) => t.label === label);
  return hit ? Number(hit.n) : null;
}

/** From /persons, opens the import form through its link. */
async function openImport(page) {
  const persons = page.locator('header nav a', { hasText: '居民' }).first();
  await clickAndWait(page, persons);
  assert.equal(pathOf(page), '/persons');
  const link = page.getByRole('link', { name: '导入花名册' }).first();
  assert.equal(await link.count(), 1, '/persons offers 导入花名册 to staff');
  const res = await clickAndWait(page, link);
  assert.equal(pathOf(page), '/persons/import', '导入花名册 opens /persons/import');
  assert.equal(res.status(), 200, '/persons/import: HTTP status');
}

/** Fills the upload form (node, file, options) and submits it; returns the preview's response. */
async function uploadRoster(page) {
  const select = page.locator('select[name=node_id]');
  await select.selectOption(await optionValueContaining(select, `${COMMUNITY}（`));
  await page.setInputFiles('input[type=file][name=file]', ROSTER);
  await page.selectOption('select[name=on_duplicate]', 'skip');
  const button = page.locator('main form button[type=submit]', { hasText: '上传并检查' });
  const res = await clickAndWait(page, button);
  assert.match(pathOf(page), /^\/persons\/import\/[0-9a-f]+$/, 'the upload lands on its job page');
  assert.equal(res.status(), 200, 'preview: HTTP status');
  return res;
}

/** Confirms the preview (ticking 部分导入) and waits for the result page. */
async function confirmPartial(page) {
  const confirm = page.locator('#commit-form button[type=submit]');
  await page.check('#commit-form input[name=partial]');
  assert.ok(await confirm.isEnabled(), '确认导入 is enabled once 部分导入 is ticked');
  await clickAndWait(page, confirm);
  if ((await page.locator('progress').count()) > 0) {
    await shot(page, `import-progress-${page.viewportSize().width}.png`);
    console.log('the progress page was shown while the import ran');
  } else {
    console.log('note: the import finished before the progress page loaded (small file)');
  }
  // The progress page polls its job and reloads itself when the import ends.
  await page.waitForFunction(
    () => /导入完成|导入失败/.test(document.querySelector('h1')?.textContent ?? ''),
    null,
    { timeout: 60_000 },
  );
}

// ---------------------------------------------------------------- a synthetic large roster

const SURNAMES = [...'王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗'];
const GIVEN = [...'伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉'];

/** A UTF-8 roster of `n` distinct, valid people, four to a flat. */
function syntheticRoster(n) {
  const lines = ['序号,姓名,身份证号码,联系电话,现居住地址,与户主关系'];
  const day0 = Date.UTC(1950, 0, 1);
  for (let i = 0; i < n; i += 1) {
    const birth = new Date(day0 + Math.floor(i / 500) * 86_400_000 * 37);
    const ymd = birth.toISOString().slice(0, 10).replaceAll('-', '');
    const body = `533401${ymd}${String(i % 500).padStart(3, '0')}`;
    const flat = Math.floor(i / 4);
    const address = `${50 + Math.floor(flat / 200)}栋${1 + Math.floor((flat % 200) / 50)}单元${101 + (flat % 50)}室`;
    const relation = i % 4 === 0 ? '户主' : '其他';
    const name = SURNAMES[i % SURNAMES.length]
      + GIVEN[Math.floor(i / SURNAMES.length) % GIVEN.length]
      + GIVEN[Math.floor(i / (SURNAMES.length * GIVEN.length)) % GIVEN.length];
    lines.push(`${i + 1},${name},${body}${idCheck(body)},139${String(i).padStart(8, '0')},${address},${relation}`);
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

test('browser: import a GBK roster with rejected rows, preview, confirm partially, see the result', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t)) return;
  assert.ok(existsSync(ROSTER), `fixture not found at ${ROSTER}`);
  const { server, newPage } = await startStack(t, { dataPrefix: 'linli-e2e-import-' });
  const base = server.base;

  const page = await newPage(DESKTOP);
  let jobPath = null;

  await t.test('staff opens 导入花名册 and sees the form and the blank template', async () => {
    const res = await logIn(page, base, 'staff', PASSWORD);
    assert.equal(res.status(), 200, 'staff login: HTTP status');
    await openImport(page);
    await shot(page, 'import-form.png');
    const template = page.getByRole('link', { name: /空白模板/ });
    assert.equal(await template.count(), 1, 'the form links the blank template');
    const r = await page.request.get(`${base}/persons/template.xlsx`);
    assert.equal(r.status(), 200, 'the template downloads');
    assert.match(r.headers()['content-type'], /spreadsheetml/);
    const bytes = await r.body();
    assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'the template is an xlsx (zip)');
  });

  await t.test('the GBK roster is previewed: 10 rejected rows, nothing stored yet', async () => {
    await uploadRoster(page);
    jobPath = pathOf(page);
    await shot(page, 'import-preview.png');
    const body = await bodyText(page);
    assert.ok(body.includes('检查结果'), 'the page is the preview');
    assert.ok(body.includes('roster.gbk.csv'), 'the preview names the file');
    assert.ok(/GBK/.test(body), 'the preview names the encoding it found');
    assert.equal(await tile(page, '拒绝'), 10, '10 rows are rejected');
    console.log(`preview tiles: 导入 ${await tile(page, '导入')}, 待核实 ${await tile(page, '导入（待核实）')}, 拒绝 ${await tile(page, '拒绝')}, 重复 ${await tile(page, '重复')}`);
    const rows = page.locator('table.problems tbody tr');
    assert.ok((await rows.count()) >= 10, 'the problem rows are listed');
    assert.ok(body.includes('下载被拒绝的行'), 'the rejected rows can be downloaded');
    const html = await page.content();
    assert.ok(!html.includes('533401194306122186'), 'no full ID number in the preview');

    const confirm = page.locator('#commit-form button[type=submit]');
    assert.ok(await confirm.isDisabled(), '确认导入 waits for 部分导入 while rows are rejected');
    assert.ok(!(await page.isChecked('#commit-form input[name=partial]')), '部分导入 starts unticked');

    const r = await page.request.get(`${base}${jobPath}/rejects.xlsx`);
    assert.equal(r.status(), 200, 'rejects.xlsx downloads');
    assert.match(r.headers()['content-type'], /spreadsheetml/);
    assert.equal((await r.body()).subarray(0, 2).toString(), 'PK', 'rejects.xlsx is an xlsx (zip)');
  });

  await t.test('ticking 部分导入 and confirming stores the good rows; the result is shown', async () => {
    await confirmPartial(page);
    await shot(page, 'import-result.png');
    assert.equal(pathOf(page), jobPath, 'the result is on the job page');
    const body = await bodyText(page);
    assert.ok(body.includes('导入完成'), `the import finished: ${body}`);
    const stored = await tile(page, '新登记');
    console.log(`stored ${stored}, skipped ${await tile(page, '已登记，跳过')}, rejected ${await tile(page, '被拒绝，未导入')}`);
    assert.ok(stored > 250, `most of the 300 rows are stored (${stored})`);
    assert.equal(await tile(page, '被拒绝，未导入'), 10, 'the 10 rejected rows are not stored');
    const persons = page.getByRole('link', { name: '查看居民' });
    assert.equal(await persons.count(), 1, 'the result links to the persons list');
  });

  await t.test('a job is confirmed once', async () => {
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const r = await page.request.post(`${base}${jobPath}/commit`, {
      form: { csrf, partial: '1' },
      maxRedirects: 0,
    });
    assert.equal(r.status(), 303, 'a second confirmation only redirects to the job');
  });

  await t.test('a large roster shows its progress while it is stored', async () => {
    const rows = 20_000;
    await openImport(page);
    const select = page.locator('select[name=node_id]');
    await select.selectOption(await optionValueContaining(select, '第02网格'));
    await page.setInputFiles('input[type=file][name=file]', {
      name: 'big-roster.csv',
      mimeType: 'text/csv',
      buffer: syntheticRoster(rows),
    });
    const started = Date.now();
    await clickAndWait(page, page.locator('main form button[type=submit]', { hasText: '上传并检查' }));
    console.log(`preview of ${rows} rows took ${Date.now() - started} ms`);
    await shot(page, 'import-preview-large.png');
    assert.equal(await tile(page, '导入'), rows, `all ${rows} synthetic rows are accepted`);
    const confirm = page.locator('#commit-form button[type=submit]');
    assert.ok(await confirm.isEnabled(), '确认导入 is enabled when no row is rejected');
    const t0 = Date.now();
    await clickAndWait(page, confirm);
    if ((await page.locator('progress').count()) > 0) {
      // Let the page's poll move the bar once, unless the import ends first.
      await page.waitForFunction(
        () => !document.querySelector('progress') || document.querySelector('progress').value > 0,
        null,
        { timeout: 60_000 },
      );
      await shot(page, 'import-progress.png');
      const text = page.locator('#import-progress-text');
      if ((await text.count()) > 0) console.log(`progress page: ${await text.innerText()}`);
    } else {
      console.log('note: the large import finished before its progress page loaded');
    }
    await page.waitForFunction(
      () => /导入完成|导入失败/.test(document.querySelector('h1')?.textContent ?? ''),
      null,
      { timeout: 120_000 },
    );
    console.log(`import of ${rows} rows took ${Date.now() - t0} ms`);
    await shot(page, 'import-progress-done.png');
    assert.equal(await tile(page, '新登记'), rows, `all ${rows} rows are stored`);
  });

  await page.context().close();

  await t.test('on a phone: the same file again stores nothing new', async () => {
    const phone = await newPage(PHONE);
    await logIn(phone, base, 'staff', PASSWORD);
    await openImport(phone);
    await shot(phone, 'import-form-360.png');
    await reportOverflow(phone, 'import form at 360px');
    await uploadRoster(phone);
    await shot(phone, 'import-preview-360.png');
    await reportOverflow(phone, 'import preview at 360px');
    assert.equal(await tile(phone, '拒绝'), 10, 'the phone preview also shows 10 rejected rows');
    await confirmPartial(phone);
    await shot(phone, 'import-result-360.png');
    await reportOverflow(phone, 'import result at 360px');
    const body = await bodyText(phone);
    assert.ok(body.includes('导入完成'), 'the second import finished');
    assert.equal(await tile(phone, '新登记'), 0, 'nothing new is stored the second time');
    assert.ok((await tile(phone, '已登记，跳过')) > 250, 'the registered persons are skipped');
    await phone.context().close();
  });
});
