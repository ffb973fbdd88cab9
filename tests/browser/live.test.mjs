// Live updates across instances: two `dxdesk serve` on one PostgreSQL. The
// partner's inbox (a browser on instance B) shows a referral made by the desk
// (another browser context, on instance A) within 2 seconds, without a reload;
// the desk's open case page says 「更新されました」 when the partner accepts on B.
// Needs DXDESK_TEST_POSTGRES_URL (a server the tests may create databases on);
// skipped without it unless DXDESK_REQUIRE_POSTGRES=1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { newPage, shot, signIn, startBrowser, startServer } from './harness.mjs';

const CENTER = '地方独立行政法人青森県産業技術センター';
const PG = process.env.DXDESK_TEST_POSTGRES_URL;
const skip = !PG && process.env.DXDESK_REQUIRE_POSTGRES !== '1' ? 'DXDESK_TEST_POSTGRES_URL is not set' : false;

describe('live updates across two instances on PostgreSQL', { skip }, () => {
  let a;
  let b;
  let browser;
  let dbName;
  const pages = [];

  before(async () => {
    assert.ok(PG, 'DXDESK_REQUIRE_POSTGRES=1 needs DXDESK_TEST_POSTGRES_URL');
    dbName = `dxdesk_live_${process.pid}_${Date.now()}`;
    execFileSync('psql', [PG, '-q', '-c', `CREATE DATABASE ${dbName}`]);
    const url = new URL(PG);
    url.pathname = `/${dbName}`;
    const env = { DATABASE_URL: url.toString() };
    a = await startServer({ env });
    // The second instance seeds nothing new: seed-demo only adds what is missing.
    b = await startServer({ env });
    browser = await startBrowser();
  });

  after(async () => {
    for (const p of pages) assert.deepEqual(p.problems, [], `CSP violations or page errors on ${p.url()}`);
    await browser?.close();
    await a?.stop();
    await b?.stop();
    if (dbName) execFileSync('psql', [PG, '-q', '-c', `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`]);
  });

  async function page(server, opts) {
    const { page: p } = await newPage(browser, server.base, opts);
    pages.push(p);
    return p;
  }

  test('a referral made on instance A appears in the partner inbox on instance B within 2 s', async () => {
    const partner = await page(b);
    await signIn(partner, 'partner.center@aomori.example');
    await partner.getByRole('heading', { name: '紹介受付箱' }).waitFor();

    const desk = await page(a);
    await signIn(desk, 'concierge@aomori.example');
    await desk.getByRole('link', { name: '新規受付' }).click();
    await desk.getByLabel('事業者名').fill('ライブ更新テスト株式会社');
    await desk.getByLabel('所在市町村').selectOption('八戸市');
    await desk.getByLabel('件名').fill('在庫管理をクラウドに移したい');
    await desk.getByLabel('相談内容').fill('紙の在庫台帳をクラウドに移行したい。');
    await desk.getByLabel('受付経路').selectOption('WALK_IN');
    await desk.getByLabel('事業者から情報提供の同意を得た').check();
    await desk.getByRole('button', { name: '受け付ける', exact: true }).click();
    const reference = (await desk.getByTestId('new-reference').innerText()).trim();
    await desk.getByRole('link', { name: '案件を開く' }).click();
    await desk.getByRole('heading', { name: /在庫管理をクラウド/ }).waitFor();
    await desk.getByLabel('その他の機関').selectOption({ label: CENTER });
    await desk.getByRole('button', { name: 'この機関へ紹介', exact: true }).click();
    await desk.getByTestId('referral-PENDING').filter({ hasText: CENTER }).waitFor();
    // The referral is committed: the partner's inbox on B shows it without a reload.
    const started = Date.now();
    const item = partner.getByTestId('inbox-item').filter({ hasText: reference });
    await item.waitFor({ timeout: 2_000 });
    const ms = Date.now() - started;
    console.log(`inbox on instance B showed the referral ${ms} ms after the desk saw it on A`);
    await shot(partner, 'live-01-partner-inbox-updated');

    // The partner accepts on B; the desk's case page on A says so and shows it.
    await item.getByRole('button', { name: '引き受ける' }).click();
    await item.waitFor({ state: 'detached' });
    await desk.getByTestId('case-message').filter({ hasText: '更新されました' }).waitFor({ timeout: 5_000 });
    await desk.getByTestId('referral-ACCEPTED').filter({ hasText: CENTER }).waitFor({ timeout: 5_000 });
    await shot(desk, 'live-02-case-page-updated');
    const phone = await page(b, { viewport: { width: 390, height: 844 } });
    await signIn(phone, 'partner.center@aomori.example');
    await phone.getByRole('heading', { name: '紹介受付箱' }).waitFor();
    await shot(phone, 'live-03-partner-inbox-phone');
    assert.ok(ms <= 2_000);
  });
});
