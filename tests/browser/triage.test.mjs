// Clear screens for deciding (issue 13): the partner reads the desk's referral note, the case
// description and the pick-up deadline before accepting; the desk's dashboard lists the case
// once it is handed back; the case list's filter form agrees with the URL after reload and
// back/forward. Screenshots go to screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newPage, shot, signIn, startBrowser, startServer } from './harness.mjs';

const CENTER = '地方独立行政法人青森県産業技術センター';
const NOTE = '在庫管理の見直しです。先方は来週の訪問を希望しています。';
const DESCRIPTION = '紙の在庫台帳を表計算とバーコードに置き換えたい。';
const PHONE = { viewport: { width: 390, height: 844 }, context: { isMobile: true, hasTouch: true } };

describe('deciding with the facts in view', () => {
  let server;
  let browser;
  const opened = {};
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

  test('the desk opens a case and refers it with a note', async () => {
    const p = await page();
    await signIn(p, 'concierge@aomori.example');
    await p.getByRole('link', { name: '新規受付' }).click();
    await p.getByRole('heading', { name: '新規相談の受付' }).waitFor();
    await p.getByLabel('事業者名').fill('在庫台帳テスト商店');
    await p.getByLabel('所在市町村').selectOption('八戸市');
    await p.getByLabel('ご担当者名').fill('台帳 花子');
    await p.getByLabel('件名').fill('在庫台帳のデジタル化');
    await p.getByLabel('相談内容').fill(DESCRIPTION);
    await p.getByLabel('受付経路').selectOption('WALK_IN');
    await p.getByLabel('事業者から情報提供の同意を得た').check();
    await p.getByRole('button', { name: '受け付ける', exact: true }).click();
    await p.getByRole('heading', { name: '案件を受け付けました' }).waitFor();
    opened.reference = (await p.getByTestId('new-reference').innerText()).trim();
    await p.getByRole('link', { name: '案件を開く' }).click();
    await p.getByRole('heading', { name: /在庫台帳のデジタル化/ }).waitFor();
    opened.caseUrl = new URL(p.url()).pathname;
    await p.getByText('おすすめの連携機関').waitFor();
    await p.getByLabel('紹介メモ').fill(NOTE);
    const suggested = p.getByRole('button', { name: `この機関へ紹介: ${CENTER}` });
    if (await suggested.count()) {
      await suggested.click();
    } else {
      await p.getByLabel('その他の機関').selectOption({ label: CENTER });
      await p.getByRole('button', { name: 'この機関へ紹介', exact: true }).click();
    }
    await p.getByTestId('referral-PENDING').filter({ hasText: CENTER }).waitFor();
  });

  for (const [label, opts] of [['desktop', {}], ['phone', PHONE]]) {
    test(`the partner reads the note, description and deadline before deciding (${label})`, async () => {
      const p = await page(opts);
      await signIn(p, 'partner.center@aomori.example');
      await p.getByRole('heading', { name: '紹介受付箱' }).waitFor();
      const item = p.getByTestId('inbox-item').filter({ hasText: opened.reference });
      await item.waitFor();
      // Still pending: the decision buttons are there, and so is what the desk wrote.
      await item.getByRole('button', { name: '引き受ける' }).waitFor();
      assert.equal((await item.getByTestId('inbox-note').innerText()).trim(), NOTE);
      assert.equal((await item.getByTestId('inbox-description').innerText()).trim(), DESCRIPTION);
      await item.getByText('引受期限').first().waitFor();
      await item.getByText(/あと|期限超過/).first().waitFor();
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      assert.equal(overflow, false, 'the inbox fits the screen');
      await shot(p, `30-partner-inbox-brief-${label}`);
    });
  }

  test('accepted and completed, the case shows on the desk dashboard as handed back', async () => {
    const p = await page();
    await signIn(p, 'partner.center@aomori.example');
    const item = p.getByTestId('inbox-item').filter({ hasText: opened.reference });
    await item.getByRole('button', { name: '引き受ける' }).click();
    await item.waitFor({ state: 'detached' });
    await p.goto(opened.caseUrl);
    await p.getByRole('heading', { name: /在庫台帳のデジタル化/ }).waitFor();
    await p.getByLabel('支援内容のまとめ').fill('バーコード運用を試行し、手順書を渡しました。');
    await p.getByRole('button', { name: '支援完了として返す' }).click();
    await p.getByTestId('referral-COMPLETED').waitFor();

    const d = await page();
    await signIn(d, 'concierge@aomori.example');
    const card = d.getByTestId('dash-handed-back');
    await card.getByRole('link', { name: opened.reference }).waitFor();
    await card.getByText(CENTER).first().waitFor();
    await shot(d, '31-dashboard-handed-back');
    // The same rule, as a filter of the case list (the API's CaseFilter.handedBack).
    await d.goto('/cases?handedBack=1');
    await d.getByRole('heading', { name: '案件一覧' }).waitFor();
    assert.equal(await d.locator('#f-handed-back').isChecked(), true);
    await d.getByRole('link', { name: opened.reference }).waitFor();
  });

  test('the case list form shows the filter the URL applies, after reload and back/forward', async () => {
    const p = await page();
    await signIn(p, 'concierge@aomori.example');
    await p.goto('/cases?stage=TRY&search=IoT');
    await p.getByRole('heading', { name: '案件一覧' }).waitFor();
    const form = async () => ({
      search: await p.locator('#f-search').inputValue(),
      stage: await p.locator('#f-stage').inputValue(),
      status: await p.locator('#f-status').inputValue(),
      overdue: await p.locator('#f-overdue').isChecked(),
    });
    // Waits until the form shows `want` (it renders after the address changes), then compares.
    const formIs = async (want) => {
      await p
        .waitForFunction(
          (w) => {
            const v = (id) => document.getElementById(id)?.value;
            return v('f-search') === w.search && v('f-stage') === w.stage && v('f-status') === w.status && document.getElementById('f-overdue')?.checked === w.overdue;
          },
          want,
          { timeout: 5000 },
        )
        .catch(() => {});
      assert.deepEqual(await form(), want);
    };
    await formIs({ search: 'IoT', stage: 'TRY', status: '', overdue: false });

    // Apply another filter through the form: the URL follows.
    await p.locator('#f-search').fill('在庫');
    await p.locator('#f-stage').selectOption('');
    await p.locator('#f-overdue').check();
    await p.getByRole('button', { name: '絞り込む' }).click();
    await p.waitForURL((u) => u.searchParams.get('search') === '在庫' && u.searchParams.get('overdue') === '1');
    await formIs({ search: '在庫', stage: '', status: '', overdue: true });

    // Back: the form shows the earlier filter again, not the one last typed.
    await p.goBack();
    await p.waitForURL((u) => u.searchParams.get('search') === 'IoT');
    await formIs({ search: 'IoT', stage: 'TRY', status: '', overdue: false });
    await p.goForward();
    await p.waitForURL((u) => u.searchParams.get('search') === '在庫');
    await formIs({ search: '在庫', stage: '', status: '', overdue: true });

    // Reload keeps it.
    await p.reload();
    await p.getByRole('heading', { name: '案件一覧' }).waitFor();
    await formIs({ search: '在庫', stage: '', status: '', overdue: true });

    // A link with a status combination no single option names is shown as applied, not as 「すべて」.
    await p.goto('/cases?status=NEW,ON_HOLD');
    await p.getByRole('heading', { name: '案件一覧' }).waitFor();
    assert.equal(await p.locator('#f-status').inputValue(), 'NEW,ON_HOLD');
    await shot(p, '32-case-list-filter-from-url');
  });
  test('the business asks for e-mail updates at the desk: an address is needed, and the case says so', async () => {
    const p = await page(PHONE);
    await signIn(p, 'concierge@aomori.example');
    await p.goto('/cases/new');
    await p.getByRole('heading', { name: '新規相談の受付' }).waitFor();
    await p.getByLabel('事業者名').fill('メール連絡テスト商店');
    await p.getByLabel('所在市町村').selectOption('八戸市');
    await p.getByLabel('件名').fill('メールで進み具合を知りたい');
    await p.getByLabel('相談内容').fill('進み具合をメールで受け取りたい。');
    await p.getByLabel('事業者から情報提供の同意を得た').check();
    await p.getByLabel(/受付番号と進み具合をメールで知らせる/).check();
    await p.getByRole('button', { name: '受け付ける', exact: true }).click();
    // The API refuses without an address; the page shows its words at the box.
    await p.locator('#emailUpdates-err').getByText(/メールアドレス/).waitFor();
    await shot(p, '34-intake-email-updates-needs-address');
    await p.getByLabel('メールアドレス').first().fill('mail-updates@shop.example');
    await p.getByRole('button', { name: '受け付ける', exact: true }).click();
    await p.getByRole('heading', { name: '案件を受け付けました' }).waitFor();
    await p.getByRole('link', { name: '案件を開く' }).click();
    await p.getByTestId('email-updates').getByText('希望あり').waitFor();
  });
  test('a returning business: the intake shows the record on file, what differs, and offers the new contact', async () => {
    const p = await page();
    await signIn(p, 'concierge@aomori.example');
    await p.getByRole('link', { name: '新規受付' }).click();
    await p.getByRole('heading', { name: '新規相談の受付' }).waitFor();
    // A business on record with a 法人番号, as the finder lists it.
    await p.getByLabel('既存の事業者を探す').fill('株式会社');
    await p.getByRole('button', { name: '検索', exact: true }).click();
    const known = p.locator('.pick-list li').filter({ hasText: /\d{13}/ }).first();
    await known.waitFor();
    const knownName = (await known.locator('strong').innerText()).trim();
    const number = (await known.innerText()).match(/\d{13}/)[0];
    await p.getByLabel('事業者名').fill(`${knownName}（表記ゆれ）`);
    await p.getByLabel('法人番号').fill(number);
    await p.getByLabel('所在市町村').selectOption('八戸市');
    await p.getByLabel('ご担当者名').fill('新任 一郎');
    await p.getByTestId('intake-check-run').click();
    const panel = p.getByTestId('intake-check');
    assert.equal((await panel.getByTestId('intake-existing').innerText()).trim(), knownName);
    await panel.getByTestId('intake-differences').getByRole('row').filter({ hasText: '事業者名' }).filter({ hasText: '（表記ゆれ）' }).waitFor();
    const add = p.getByLabel(/入力した担当者をこの事業者の連絡先に追加する/);
    assert.ok(await add.isChecked());
    await shot(p, '33-intake-returning-business');
    await panel.getByTestId('intake-use-existing').click();
    assert.equal((await p.getByTestId('picked-business').innerText()).trim(), knownName);
    await p.getByLabel('件名').fill('再訪の相談');
    await p.getByLabel('相談内容').fill('前回の続きで、在庫の見える化を相談したい。');
    await p.getByRole('button', { name: '受け付ける', exact: true }).click();
    await p.getByRole('heading', { name: '案件を受け付けました' }).waitFor();
    await p.getByText('担当者を連絡先に追加しました。').waitFor();
  });
});
