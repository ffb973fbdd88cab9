// Issue 11 in a real browser: a fresh database, a third prefecture's lab file,
// its first admin from `dxdesk user create`, the password set through the
// link, a concierge and a partner created in the web pages, a case opened and
// referred — without ever running seed-demo. Screenshots go to screenshots/.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { newPage, shot, signIn, startBrowser, startServer } from './harness.mjs';

const LAB = {
  labs: [
    {
      code: 'IWT',
      name: '岩手県DX推進ラボ',
      regions: [
        { code: 'KENO', name: '県央', municipalities: ['盛岡市', '滝沢市', '雫石町'] },
        { code: 'KENNAN', name: '県南', municipalities: ['花巻市', '北上市', '奥州市'] },
      ],
      institutions: [
        { name: '岩手県工業技術センター', kind: 'INDUSTRY_SUPPORT', tags: ['IoT', 'ものづくり'] },
        { name: '岩手大学', kind: 'UNIVERSITY', tags: ['AI'] },
      ],
    },
  ],
};

describe('a new lab starts without the demo', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({
      setup: async ({ dxdesk, dir }) => {
        const file = join(dir, 'iwate.json');
        writeFileSync(file, JSON.stringify(LAB, null, 2));
        await dxdesk(['lab', 'import', file]);
        const out = await dxdesk(['user', 'create', '--lab', 'IWT', '--email', 'jimukyoku@iwate.example', '--name', '岩手県DX推進課', '--role', 'ADMIN']);
        const link = out.split('\n').find((l) => l.includes('/set-password#'));
        assert.ok(link, out);
        return link.trim();
      },
    });
    browser = await startBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('admin sets a password, creates staff; the concierge opens and refers a case', async () => {
    const { page: p } = await newPage(browser, server.base);
    await p.goto(server.setupResult);
    await p.getByRole('heading', { name: 'パスワードの設定' }).waitFor();
    await p.locator('#new-password').fill('password1234');
    await p.locator('#new-password-again').fill('password1234');
    await p.getByRole('button', { name: 'パスワードを設定してログイン' }).click();
    await p.getByText('よく使われていて').waitFor();
    await shot(p, 'onb-01-common-password-refused');
    const pw = 'iwate secretariat 2025';
    await p.locator('#new-password').fill(pw);
    await p.locator('#new-password-again').fill(pw);
    await p.getByRole('button', { name: 'パスワードを設定してログイン' }).click();
    await p.getByRole('heading', { name: 'ダッシュボード' }).waitFor();

    // Staff accounts in the web pages.
    await p.getByRole('link', { name: 'ユーザー管理' }).click();
    await p.getByRole('heading', { name: 'ユーザー管理' }).waitFor();
    for (const [email, role, inst] of [
      ['concierge@iwate.example', 'CONCIERGE', null],
      ['center@iwate.example', 'PARTNER', '岩手県工業技術センター'],
    ]) {
      await p.locator('#u-email').fill(email);
      await p.locator('#u-name').fill(email.split('@')[0]);
      await p.locator('#u-password').fill('iwate staff pass 1');
      await p.locator('#u-role').selectOption(role);
      if (inst) await p.locator('#u-institution').selectOption({ label: inst });
      await p.getByRole('button', { name: 'ユーザーを作成' }).click();
      await p.getByTestId(`user-row-${email}`).waitFor();
    }
    await p.getByRole('button', { name: 'パスワード設定リンクを発行: center@iwate.example' }).click();
    const link = await p.getByTestId('password-link').textContent();
    assert.match(link, /\/set-password#/);
    await shot(p, 'onb-02-users');

    // Lab settings.
    await p.getByRole('link', { name: 'ラボ設定' }).click();
    await p.locator('#s-pickup').fill('4');
    await p.locator('#s-contact').fill('019-000-0000（平日9時〜17時）');
    await p.getByRole('button', { name: '保存' }).click();
    await p.getByText('保存しました').waitFor();
    await shot(p, 'onb-03-settings');

    // The concierge opens a case and refers it.
    const { page: c } = await newPage(browser, server.base);
    await signIn(c, 'concierge@iwate.example', 'iwate staff pass 1');
    await c.getByRole('link', { name: '新規受付' }).click();
    await c.getByLabel('事業者名').fill('盛岡精密株式会社');
    await c.getByLabel('所在市町村').selectOption('盛岡市');
    await c.getByLabel('ご担当者名').fill('盛岡 太郎');
    await c.getByLabel('件名').fill('検査工程を画像で自動化したい');
    await c.getByLabel('相談内容').fill('外観検査を画像認識で自動化できるか相談したい。');
    await c.getByLabel('受付経路').selectOption('WALK_IN');
    await c.getByLabel('事業者から情報提供の同意を得た').check();
    await c.getByRole('button', { name: '受け付ける', exact: true }).click();
    await c.getByRole('heading', { name: '案件を受け付けました' }).waitFor();
    assert.match((await c.getByTestId('new-reference').innerText()).trim(), /^IWT-\d{4}-\d{6}$/);
    await c.getByRole('link', { name: '案件を開く' }).click();
    await c.getByRole('heading', { name: /検査工程を画像で/ }).waitFor();
    const CENTER = '岩手県工業技術センター';
    const suggested = c.getByRole('button', { name: `この機関へ紹介: ${CENTER}` });
    if (await suggested.count()) {
      await suggested.click();
    } else {
      await c.getByLabel('その他の機関').selectOption({ label: CENTER });
      await c.getByRole('button', { name: 'この機関へ紹介', exact: true }).click();
    }
    await c.getByTestId('referral-PENDING').filter({ hasText: CENTER }).waitFor();
    await shot(c, 'onb-04-case-referred');
    await c.setViewportSize({ width: 390, height: 844 });
    await shot(c, 'onb-05-case-referred-390');

    // The partner signs in and finds it in the inbox.
    const { page: pp } = await newPage(browser, server.base);
    await signIn(pp, 'center@iwate.example', 'iwate staff pass 1');
    await pp.getByRole('heading', { name: '紹介受付箱' }).waitFor();
    await pp.getByTestId('inbox-item').first().waitFor();
    await shot(pp, 'onb-06-partner-inbox');
  });
});
