// The desk's day in a real browser: open + refer, partner accepts, the business sees it,
// a stale edit is caught, a deactivated user is signed out. Screenshots go to screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newPage, shot, signIn, startBrowser, startServer } from './harness.mjs';

const CENTER = '地方独立行政法人青森県産業技術センター';
const STALE = '他の担当者がこの案件を更新しました。最新の内容を読み込みました。';

describe('dxdesk in the browser', () => {
  let server;
  let browser;
  const opened = {}; // reference, accessCode, caseUrl
  const pages = [];

  before(async () => {
    server = await startServer();
    browser = await startBrowser();
  });

  after(async () => {
    for (const p of pages) assert.deepEqual(p.problems, [], `CSP violations or page errors on ${p.url()}`);
    await browser?.close();
    await server?.stop();
  });

  async function page(opts) {
    const { page: p } = await newPage(browser, server.base, opts);
    pages.push(p);
    return p;
  }

  test('security headers on the front end', async () => {
    const r = await fetch(`${server.base}/cases/some-deep-link`);
    assert.equal(r.status, 200, 'SPA fallback serves index.html for unknown non-API paths');
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(r.headers.get('referrer-policy'), 'Referrer-Policy is set');
  });

  test('a concierge opens a case with consent and refers it to the technology centre', async () => {
    const p = await page();
    await signIn(p, 'concierge@aomori.example');
    await p.getByRole('heading', { name: 'ダッシュボード' }).waitFor();
    await p.getByText('Webからの新規相談').waitFor();
    await shot(p, '01-concierge-dashboard');

    await p.getByRole('link', { name: '新規受付' }).click();
    await p.getByRole('heading', { name: '新規相談の受付' }).waitFor();
    await p.getByLabel('事業者名').fill('ブラウザテスト精密工業株式会社');
    await p.getByLabel('所在市町村').selectOption('八戸市');
    await p.getByLabel('ご担当者名').fill('試験 太郎');
    await p.getByLabel('件名').fill('工場設備のIoT化で稼働状況を見える化したい');
    await p.getByLabel('相談内容').fill('旋盤とマシニングセンタの稼働率をセンサーで計測し、実証から始めたい。');
    await p.getByLabel('トピック').fill('IoT, 実証');
    await p.getByLabel('受付経路').selectOption('WALK_IN');
    await p.getByLabel('ステージ').selectOption('TRY');
    await p.getByLabel('事業者から情報提供の同意を得た').check();
    // the API's own message appears next to the field it names (extensions.field)
    await p.getByLabel('メールアドレス').fill('a@b.c');
    await p.getByRole('button', { name: '受け付ける', exact: true }).click();
    const emailErr = p.locator('#biz-email-err');
    await emailErr.filter({ hasText: /.+/ }).waitFor();
    assert.equal(await p.getByLabel('メールアドレス').getAttribute('aria-invalid'), 'true');
    await shot(p, '02a-intake-api-error-beside-field');
    await p.getByLabel('メールアドレス').fill('');
    await shot(p, '02-intake-form');
    await p.getByRole('button', { name: '受け付ける', exact: true }).click();
    await p.getByRole('heading', { name: '案件を受け付けました' }).waitFor();
    opened.reference = (await p.getByTestId('new-reference').innerText()).trim();
    opened.accessCode = (await p.getByTestId('new-access-code').innerText()).trim();
    assert.match(opened.reference, /^AOM-\d{4}-\d{6}$/);
    assert.ok(opened.accessCode.length >= 6);
    await shot(p, '03-case-opened-access-code');

    await p.getByRole('link', { name: '案件を開く' }).click();
    await p.getByRole('heading', { name: /工場設備のIoT化/ }).waitFor();
    opened.caseUrl = new URL(p.url()).pathname;
    await p.getByText('おすすめの連携機関').waitFor();
    await p.getByLabel('紹介メモ').fill('IoT実証の相談です。ご対応をお願いします。');
    const suggested = p.getByRole('button', { name: `この機関へ紹介: ${CENTER}` });
    if (await suggested.count()) {
      await suggested.click();
    } else {
      await p.getByLabel('その他の機関').selectOption({ label: CENTER });
      await p.getByRole('button', { name: 'この機関へ紹介', exact: true }).click();
    }
    await p.getByTestId('referral-PENDING').filter({ hasText: CENTER }).waitFor();
    await p.getByText('紹介中').first().waitFor();
    // once referred, the refer form folds away: the case page shows the referral, not the form
    await p.getByLabel('紹介メモ').waitFor({ state: 'detached' });
    await p.getByTestId('refer-details').waitFor();
    await shot(p, '04-case-referred');
  });

  test('the partner sees it in the inbox and accepts it', async () => {
    const p = await page();
    await signIn(p, 'partner.center@aomori.example');
    await p.getByRole('heading', { name: '紹介受付箱' }).waitFor();
    const item = p.getByTestId('inbox-item').filter({ hasText: opened.reference });
    await item.waitFor();
    await item.getByText(/あと|期限超過/).first().waitFor();
    await shot(p, '05-partner-inbox');
    await item.getByRole('button', { name: '引き受ける' }).click();
    await item.waitFor({ state: 'detached' });
    await p.getByRole('link', { name: '自機関の案件' }).click();
    await p.getByRole('row').filter({ hasText: opened.reference }).getByText('対応中').first().waitFor();
    await shot(p, '06-partner-cases');
  });

  test('the business sees who is helping on the status page (on a phone)', async () => {
    const p = await page({ viewport: { width: 390, height: 844 }, context: { isMobile: true, hasTouch: true } });
    await p.goto('/status');
    await p.getByLabel('受付番号').fill(opened.reference);
    await p.getByLabel('アクセスコード').fill('WRONG-CODE');
    await p.getByRole('button', { name: '確認する' }).click();
    await p.getByText('受付番号またはアクセスコードが正しくありません').waitFor();
    await shot(p, '07-status-wrong-code');
    await p.getByLabel('アクセスコード').fill(opened.accessCode);
    await p.getByRole('button', { name: '確認する' }).click();
    const result = p.getByTestId('status-result');
    await result.waitFor();
    await result.getByText(`${CENTER}が対応中`).waitFor();
    await shot(p, '08-status-accepted-phone');
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(overflow, false, 'the status page fits a phone screen without sideways scrolling');
    // and in English
    await p.getByRole('button', { name: 'Switch to English' }).click();
    await p.getByLabel('Access code').fill(opened.accessCode);
    await p.getByRole('button', { name: 'Check' }).click();
    await p.getByTestId('status-result').getByText(`Accepted by ${CENTER}`).waitFor();
  });

  test('the partner writes to the desk and hands the case back with a summary', async () => {
    const p = await page();
    await signIn(p, 'partner.center@aomori.example');
    await p.getByRole('link', { name: '自機関の案件' }).click();
    await p.getByRole('link', { name: opened.reference }).click();
    await p.getByRole('heading', { name: /工場設備のIoT化/ }).waitFor();
    // a partner may write only for the desk and partners, or also for the business
    assert.equal(await p.getByRole('radio').count(), 2);
    await p.getByRole('radio', { name: '窓口と紹介先機関' }).check();
    await p.getByTestId('visibility-summary').filter({ hasText: '窓口スタッフと、この案件の紹介先機関の担当者が読めます' }).waitFor();
    await p.getByLabel('本文').fill('センサー3台で2週間の計測を行いました。');
    await p.getByRole('button', { name: 'メモを追加' }).click();
    await p.locator('.note-body').filter({ hasText: 'センサー3台' }).waitFor();
    await p.getByLabel('支援内容のまとめ').fill('稼働率の計測を実証し、設備更新の計画を提案しました。');
    await p.getByRole('button', { name: '支援完了として返す' }).click();
    await p.getByTestId('referral-COMPLETED').getByTestId('referral-summary').filter({ hasText: '設備更新の計画' }).waitFor();
    await shot(p, '09a-partner-completed');
  });

  test('a stale edit is caught and the latest case is loaded, never overwritten', async () => {
    const a = await page();
    const b = await page();
    await signIn(a, 'concierge@aomori.example');
    await signIn(b, 'concierge@aomori.example');
    await a.goto(opened.caseUrl);
    await b.goto(opened.caseUrl);
    // the stage form is collapsed until used
    assert.equal(await a.getByLabel('ステージ', { exact: true }).count(), 0, 'the stage form starts collapsed');
    await a.getByText('ステージを変更', { exact: true }).click();
    await b.getByText('ステージを変更', { exact: true }).click();
    await a.getByLabel('ステージ', { exact: true }).waitFor();
    await b.getByLabel('ステージ', { exact: true }).waitFor();
    const versionBefore = await b.locator('article.case-page').getAttribute('data-version');

    await a.getByLabel('ステージ', { exact: true }).selectOption('CONSULT');
    await a.getByRole('button', { name: '変更する' }).first().click();
    await a.getByTestId('case-message').filter({ hasText: '保存しました。' }).waitFor();
    await a.getByLabel('ステージ', { exact: true }).waitFor({ state: 'detached' }); // collapsed again after use

    // B still shows the old version and tries its own change
    await b.getByLabel('ステージ', { exact: true }).selectOption('KNOW');
    await b.getByRole('button', { name: '変更する' }).first().click();
    await b.getByTestId('case-message').filter({ hasText: STALE }).waitFor();
    const versionAfter = await b.locator('article.case-page').getAttribute('data-version');
    assert.notEqual(versionAfter, versionBefore, 'B reloaded the case');
    assert.equal(await b.getByLabel('ステージ', { exact: true }).inputValue(), 'CONSULT', "B now shows A's stage, not its own");
    await shot(b, '09-stale-edit-caught');
    await a.reload();
    await a.getByText('ステージを変更', { exact: true }).click();
    await a.getByLabel('ステージ', { exact: true }).waitFor();
    assert.equal(await a.getByLabel('ステージ', { exact: true }).inputValue(), 'CONSULT', "A's change was not overwritten");
    await a.getByText('支援記録（タイムライン）').waitFor();
    await a.getByText('ステージ変更').first().waitFor();
    await shot(a, '10-case-timeline');
  });

  test('the admin deactivates a user, who is signed out on their next action', async () => {
    const victim = await page();
    await signIn(victim, 'partner.bank@aomori.example');
    await victim.getByRole('heading', { name: '紹介受付箱' }).waitFor();

    const admin = await page();
    await signIn(admin, 'admin@aomori.example');
    await admin.getByRole('link', { name: 'ユーザー管理' }).click();
    const row = admin.getByTestId('user-row-partner.bank@aomori.example');
    await row.waitFor();
    await row.getByRole('button', { name: /無効にする/ }).click();
    await row.getByText('無効').first().waitFor();
    await shot(admin, '11-admin-deactivated-user');

    // the victim's next action
    await victim.getByRole('link', { name: '自機関の案件' }).click();
    await victim.getByRole('heading', { name: '職員ログイン' }).waitFor();
    await victim.getByText('セッションが終了しました。もう一度ログインしてください。').waitFor();
    await shot(victim, '12-deactivated-user-signed-out');
    // and cannot sign in again
    await victim.getByLabel('メールアドレス').fill('partner.bank@aomori.example');
    await victim.getByLabel('パスワード').fill('demo-pass-2024');
    await victim.getByRole('button', { name: 'ログイン' }).click();
    await victim.getByRole('alert').first().waitFor();
    assert.equal(await victim.getByRole('button', { name: 'ログアウト' }).count(), 0);
  });

  test('the reports page shows the year, KPI progress and downloads the exports', async () => {
    const p = await page();
    await signIn(p, 'admin@aomori.example');
    await p.getByRole('link', { name: '活動報告' }).click();
    await p.getByRole('heading', { name: /活動報告/ }).waitFor();
    await p.getByTestId('report-figures').waitFor();
    const fyLabel = await p.getByLabel('年度').locator('option:checked').innerText();
    assert.match(fyLabel, /^令和(元|\d+)年度（\d{4}）$/);
    const opened = await p.getByTestId('report-figures').locator('.figure').first().locator('.figure-n').innerText();
    assert.ok(Number(opened) >= 1, `cases opened this year: ${opened}`);
    await shot(p, '15-reports-admin');
    const [csv] = await Promise.all([p.waitForEvent('download'), p.getByRole('button', { name: 'CSV（案件）' }).click()]);
    const csvPath = await csv.path();
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(csvPath);
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'CSV starts with a UTF-8 BOM for Excel');
    assert.ok(bytes.toString('utf8').includes(opened === '0' ? '' : 'AOM-'), 'CSV holds the cases');
    const [json] = await Promise.all([p.waitForEvent('download'), p.getByRole('button', { name: 'JSON（年次報告）' }).click()]);
    const report = JSON.parse(readFileSync(await json.path(), 'utf8'));
    assert.ok(report && typeof report === 'object');
    assert.doesNotMatch(JSON.stringify(report), /@example\.jp|試験 太郎/, 'the JSON report holds no personal data');

    const partner = await page();
    await signIn(partner, 'partner.center@aomori.example');
    await partner.getByRole('link', { name: '活動報告' }).click();
    await partner.getByText(`${CENTER} の数値のみを表示しています。`).waitFor();
    await shot(partner, '16-reports-partner');
  });

  test('a business requests a consultation from the public form', async () => {
    const p = await page({ viewport: { width: 390, height: 844 }, context: { isMobile: true, hasTouch: true } });
    await p.goto('/consult');
    await p.getByRole('heading', { name: 'DX相談の申込み' }).waitFor();
    await p.getByLabel('事業者名').fill('テスト観光合同会社');
    await p.getByLabel('所在市町村').selectOption('弘前市');
    await p.getByLabel('ご担当者名').fill('弘前 花子');
    await p.getByLabel('メールアドレス').fill('hanako@example.jp');
    await p.getByLabel('相談内容').fill('予約管理をデジタル化したいが、何から始めればよいか分からない。');
    await p.getByLabel('上記に同意します').check();
    await shot(p, '13-consult-form-phone');
    await p.getByRole('button', { name: '申し込む' }).click();
    await p.getByRole('heading', { name: 'お申込みを受け付けました' }).waitFor();
    const ref = (await p.getByTestId('submitted-reference').innerText()).trim();
    assert.match(ref, /^[A-Z]+-\d{4}-\d{6}$/);
    await shot(p, '14-consult-submitted-phone');
  });
});
