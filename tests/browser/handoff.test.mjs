// What people touch (issue 13): the access hand-off on a phone (copy, link, QR,
// print), the status link that opens the case without typing and whose secret
// never reaches the server or a Referer, the note visibility that returns to
// 「窓口のみ」, a new tab that stays signed in, and staff pages without
// horizontal scrolling at 390 px. Screenshots go to screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newPage, shot, signIn, startBrowser, startServer } from './harness.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, context: { isMobile: true, hasTouch: true } };

describe('hand-off, safe defaults and phones', () => {
  let server;
  let browser;
  const pages = [];

  before(async () => {
    // Request logging on: the test reads the access log for the secret.
    server = await startServer({ env: { RUST_LOG: 'info,tower_http=debug' } });
    browser = await startBrowser();
  });

  after(async () => {
    for (const p of pages) assert.deepEqual(p.problems, [], `CSP violations or page errors on ${p.url()}`);
    await browser?.close();
    await server?.stop();
  });

  async function page(opts) {
    const { context, page: p } = await newPage(browser, server.base, opts);
    pages.push(p);
    p.contextRef = context;
    return p;
  }

  test('the web-form result on a phone keeps the code reachable and the link opens the case', async () => {
    const p = await page(PHONE);
    await p.contextRef.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    await p.goto('/consult');
    await p.getByRole('heading', { name: 'DX相談の申込み' }).waitFor();
    await p.getByLabel('事業者名').fill('受付票テスト株式会社');
    await p.getByLabel('所在市町村').selectOption('弘前市');
    await p.getByLabel('ご担当者名').fill('弘前 次郎');
    await p.getByLabel('メールアドレス').fill('jiro@example.jp');
    await p.getByLabel('相談内容').fill('受発注をデジタル化したい。');
    await p.getByLabel('上記に同意します').check();
    await p.getByRole('button', { name: '申し込む' }).click();
    await p.getByRole('heading', { name: 'お申込みを受け付けました' }).waitFor();
    const code = await p.getByTestId('submitted-access-code').getAttribute('data-code');
    const reference = await p.getByTestId('submitted-reference').getAttribute('data-code');
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/, 'a 12-symbol code in 3 groups');
    await p.getByTestId('status-qr').waitFor();
    // No group of the code is broken over two lines on a 390 px screen.
    const groupsOnOneLine = await p.getByTestId('submitted-access-code').evaluate((el) =>
      [...el.querySelectorAll('.code-group')].every((g) => g.getClientRects().length === 1));
    assert.ok(groupsOnOneLine);
    await p.getByTestId('submitted-print').waitFor();
    await p.getByTestId('submitted-copy-link').click();
    await p.getByText('リンクをコピーしました。').waitFor();
    const copied = await p.evaluate(() => navigator.clipboard.readText());
    const link = await p.getByTestId('submitted-status-link').getAttribute('href');
    assert.equal(copied, link);
    const url = new URL(link);
    assert.equal(url.pathname, '/status');
    assert.equal(url.search, '', 'nothing secret in the query string');
    assert.ok(url.hash.includes(encodeURIComponent(code)) || url.hash.includes(code));
    await shot(p, '20-handoff-phone');
    // Printing shows the slip only.
    await p.emulateMedia({ media: 'print' });
    assert.equal(await p.getByTestId('submitted-copy-link').isVisible(), false, 'buttons are not printed');
    assert.ok(await p.getByTestId('submitted-access-code').isVisible());
    await shot(p, '21-handoff-print');
    await p.emulateMedia({ media: 'screen' });

    // The bookmarked link, opened in a fresh context: the status shows without typing.
    const q = await page(PHONE);
    const referers = [];
    q.on('request', (r) => referers.push(r.headers()['referer'] ?? ''));
    await q.goto(link);
    await q.getByTestId('status-result').waitFor();
    assert.match(await q.getByTestId('status-result').innerText(), new RegExp(reference));
    await shot(q, '22-status-from-link-phone');
    assert.ok(referers.length > 0);
    for (const r of referers) assert.ok(!r.includes(code) && !r.includes('code='), `Referer carries the code: ${r}`);
    // The access log saw the page and the API, never the secret.
    const log = server.log();
    assert.match(log, /\/status|\/graphql/, 'requests are logged at this level');
    assert.ok(!log.includes(code), 'the access code is not in the server log');
    assert.ok(!log.includes(code.replaceAll('-', '')), 'nor without hyphens');
  });

  test('a note goes back to 「窓口のみ」 after posting; 事業者にも公開 shows a preview', async () => {
    const p = await page();
    await signIn(p, 'concierge@aomori.example');
    await p.goto('/cases');
    await p.locator('table a[href^="/cases/"]').first().click();
    await p.locator('#note-body').waitFor();
    assert.ok(await p.locator('#vis-DESK').isChecked(), 'DESK is the default');
    await p.locator('#note-body').fill('次回は工場見学の日程を調整します。');
    await p.locator('#vis-BUSINESS').check();
    await p.getByTestId('public-preview').waitFor();
    assert.match(await p.getByTestId('public-preview').innerText(), /工場見学/);
    await shot(p, '23-note-public-preview');
    await p.getByRole('button', { name: 'メモを追加' }).click();
    // the posted note in the list (the preview above shows the same text before posting)
    await p.locator('.note-body').filter({ hasText: '次回は工場見学の日程を調整します。' }).first().waitFor();
    assert.ok(await p.locator('#vis-DESK').isChecked(), 'back to DESK after posting');
    assert.equal(await p.getByTestId('public-preview').count(), 0);
  });

  test('a case opened in a new tab stays signed in', async () => {
    const p = await page();
    await signIn(p, 'concierge@aomori.example');
    await p.goto('/cases');
    const href = await p.locator('table a[href^="/cases/"]').first().getAttribute('href');
    const tab = await p.contextRef.newPage();
    tab.problems = [];
    pages.push(tab);
    await tab.goto(href);
    await tab.getByRole('button', { name: 'ログアウト' }).waitFor();
    assert.equal(await tab.getByRole('heading', { name: '職員ログイン' }).count(), 0);
    // Both tabs keep working after the new tab refreshed its session.
    await p.reload();
    await p.getByRole('button', { name: 'ログアウト' }).waitFor();
  });

  for (const [who, paths] of [
    ['admin@aomori.example', ['/', '/cases', '/cases/new', '/reports', '/admin/users', '/admin/institutions', 'CASE']],
    ['partner.center@aomori.example', ['/partner/inbox', '/partner/cases', '/reports']],
  ]) {
    test(`no horizontal scrolling at 390 px on the staff pages of ${who}`, async () => {
      const p = await page(PHONE);
      await signIn(p, who);
      for (let path of paths) {
        if (path === 'CASE') {
          await p.goto('/cases');
          path = await p.locator('a[href^="/cases/"]:not([href="/cases/new"])').first().getAttribute('href');
        }
        await p.goto(path);
        await p.locator('main h1').first().waitFor();
        await p.waitForLoadState('networkidle');
        // the case page's action forms are collapsed until used: open them all, they must fit too
        for (const panel of await p.locator('.action-details').all()) {
          if ((await panel.getAttribute('open')) === null) await panel.locator('> summary').click();
        }
        await p.waitForLoadState('networkidle');
        const width = await p.evaluate(() => document.documentElement.scrollWidth);
        await shot(p, `24-phone${path.replaceAll('/', '-')}-${who.split('@')[0]}`);
        assert.ok(width <= 390, `${path} is ${width}px wide at 390px`);
      }
    });
  }
});
