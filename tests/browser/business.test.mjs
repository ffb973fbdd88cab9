// The desk's business record in a real browser: from a case to its business
// page (details, contacts, every case, stage path, history), adding a contact.
// Screenshots (desktop and 390 px) go to screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newPage, shot, signIn, startBrowser, startServer } from './harness.mjs';

describe('business record page', () => {
  let server;
  let browser;
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

  for (const [name, viewport] of [
    ['desktop', { width: 1280, height: 900 }],
    ['390', { width: 390, height: 844 }],
  ]) {
    test(`a case links to its business page, which takes a new contact (${name})`, async () => {
      const { page } = await newPage(browser, server.base, { viewport });
      pages.push(page);
      await signIn(page, 'concierge@aomori.example');
      await page.goto('/cases');
      await page.locator('table a.mono[href^="/cases/"]').first().click();
      await page.getByRole('link', { name: '事業者の記録を開く' }).click();
      await page.getByRole('heading', { name: '担当者' }).waitFor();
      await page.getByRole('heading', { name: '案件（年をまたいで）' }).waitFor();
      const cases = await page.locator('a[href^="/cases/"]').count();
      assert.ok(cases >= 1, 'the business page lists its cases');
      const contact = `ブラウザ 担当 ${name}`;
      await page.getByLabel('ご担当者名').fill(contact);
      await page.getByRole('button', { name: '担当者を追加' }).click();
      await page.getByText(contact).waitFor();
      await page.getByText('保存しました。').waitFor();
      await shot(page, `business-page-${name}`);
    });
  }
});
