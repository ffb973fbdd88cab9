// Notifications in the browser: a user's preferences, the admin's outbox
// (masked recipients, status) and the webhook page. Screenshots at desktop
// width and at 390 px go to screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newPage, shot, signIn, startBrowser, startServer } from './harness.mjs';

describe('notifications in the browser', () => {
  let server;
  let browser;
  const pages = [];

  before(async () => {
    // No DXDESK_SMTP_URL: the demo data's mails are kept as SKIPPED.
    server = await startServer({ env: { DXDESK_SMTP_URL: '', DXDESK_OUTBOX_POLL_MS: '100' } });
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

  for (const [suffix, viewport] of [
    ['', undefined],
    ['-390', { width: 390, height: 844 }],
  ]) {
    test(`a partner switches off arrival mails${suffix}`, async () => {
      const p = await page({ viewport });
      await signIn(p, 'partner.bank@aomori.example');
      await p.goto('/profile/notifications');
      await p.getByRole('heading', { name: '通知の設定' }).waitFor();
      const arrival = p.getByLabel('紹介の到着');
      await arrival.waitFor();
      assert.equal(await p.getByLabel(/受付期限超過のエスカレーション/).isDisabled(), true, 'safety-critical cannot be switched off');
      if (await arrival.isChecked()) await arrival.uncheck();
      await p.getByRole('button', { name: '保存' }).click();
      await p.getByText('保存しました。').waitFor();
      await shot(p, `n1-notification-settings${suffix}`);
      await p.reload();
      await p.getByLabel('紹介の到着').waitFor();
      assert.equal(await p.getByLabel('紹介の到着').isChecked(), false);
      await arrival.check();
      await p.getByRole('button', { name: '保存' }).click();
      await p.getByText('保存しました。').waitFor();
    });

    test(`the admin sees the outbox, masked${suffix}`, async () => {
      const p = await page({ viewport });
      await signIn(p, 'admin@aomori.example');
      await p.goto('/admin/outbox');
      await p.getByRole('heading', { name: '通知の送信状況' }).waitFor();
      // The worker has processed the demo data's rows: SMTP is off, so they are SKIPPED.
      for (let i = 0; i < 50; i++) {
        if ((await p.getByText('送信なし', { exact: true }).count()) > 0) break;
        await p.waitForTimeout(200);
        await p.getByLabel('状態').selectOption(i % 2 ? '' : 'SKIPPED');
      }
      await p.getByLabel('状態').selectOption('');
      await p.getByRole('cell', { name: '送信なし' }).first().waitFor();
      const body = await p.locator('table').innerText();
      assert.doesNotMatch(body, /partner\.bank@aomori\.example/, 'addresses are masked');
      assert.match(body, /\*\*\*\*@/);
      await shot(p, `n2-outbox${suffix}`);
    });
  }

  test('the admin registers a webhook and sees its secret once', async () => {
    const p = await page();
    await signIn(p, 'admin@aomori.example');
    await p.goto('/admin/webhooks');
    await p.getByRole('heading', { name: /Webhook/ }).waitFor();
    await p.getByLabel('連携機関').selectOption({ label: '株式会社青森銀行' });
    await p.getByLabel('URL').fill('https://partner.example.jp/dxdesk-webhook');
    await p.getByRole('button', { name: '登録' }).click();
    await p.getByText(/署名用シークレット/).waitFor();
    assert.match(await p.locator('code').innerText(), /^whsec_[0-9a-f]{48}$/);
    await p.getByRole('cell', { name: 'https://partner.example.jp/dxdesk-webhook' }).waitFor();
    await shot(p, 'n3-webhooks');
    await p.setViewportSize({ width: 390, height: 844 });
    await shot(p, 'n3-webhooks-390');
    await p.getByRole('button', { name: '停止' }).click();
    await p.getByRole('cell', { name: '停止中' }).waitFor();
  });
});
