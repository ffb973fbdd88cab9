// Starts a real `dxdesk serve` on a fresh demo database, and Debian's Chromium.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const screenshotDir = join(here, 'screenshots');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function run(bin, args, env) {
  return new Promise((res, rej) => {
    const p = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${bin} ${args.join(' ')} exited ${code}:\n${out.slice(-4000)}`))));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Seed a fresh demo database in a temporary folder and start `dxdesk serve` on a free port
 * (`{ frontend: false }` for API-only tests, which need no built front end; `env` adds variables). */
export async function startServer({ frontend = true, env: extraEnv = {}, setup = null } = {}) {
  const bin = process.env.DXDESK_BIN ?? join(repoRoot, 'target', 'debug', 'dxdesk');
  if (!existsSync(bin)) throw new Error(`dxdesk binary not found at ${bin} (build it with \`cargo build\`, or set DXDESK_BIN)`);
  if (frontend && !existsSync(join(repoRoot, 'frontend', 'dist', 'index.html'))) {
    throw new Error('frontend/dist is missing: run `npm ci && npm run build` in frontend/ first');
  }
  const dir = mkdtempSync(join(tmpdir(), 'dxdesk-browser-'));
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(dir, 'dxdesk.db')}?mode=rwc`,
    DXDESK_BIND: `127.0.0.1:${port}`,
    DXDESK_JWT_SECRET: process.env.DXDESK_JWT_SECRET ?? '3Hnq2mZO1/UkuZ+zhlN0oY1u0KBn4jJ+KEptAXFRftsx',
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
    DXDESK_PUBLIC_URL: `http://127.0.0.1:${port}`,
    ...extraEnv,
  };
  // The demo by default; `setup({ dxdesk })` prepares the database otherwise
  // (`dxdesk(args)` runs the binary on it and resolves to its output).
  const setupResult = setup ? await setup({ dxdesk: (args) => run(bin, args, env), dir }) : await run(bin, ['seed-demo', '--i-know-this-is-demo-data'], env); // the demo, also under DXDESK_ENV=production
  const proc = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  let exited = null;
  proc.on('exit', (code) => (exited = code));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`dxdesk serve exited ${exited}:\n${log.slice(-4000)}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGTERM');
      throw new Error(`dxdesk serve did not become ready:\n${log.slice(-4000)}`);
    }
    await sleep(250);
  }
  return {
    base,
    setupResult,
    log: () => log,
    async stop() {
      if (exited === null) {
        proc.kill('SIGTERM');
        for (let i = 0; i < 40 && exited === null; i++) await sleep(100);
        if (exited === null) proc.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium through playwright-core; playwright gives it a fresh empty profile. Never downloads a browser. */
export async function startBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  mkdirSync(screenshotDir, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A browser context that records CSP violations and page errors, so that inline scripts or styles fail the test. */
export async function newPage(browser, base, opts = {}) {
  const context = await browser.newContext({ baseURL: base, locale: 'ja-JP', timezoneId: 'Asia/Tokyo', viewport: opts.viewport ?? { width: 1280, height: 900 }, ...opts.context });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) page.problems.push(text);
  });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.setDefaultTimeout(15_000);
  return { context, page };
}

export async function shot(page, name) {
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export async function signIn(page, email, password = 'demo-pass-2024') {
  await page.goto('/login');
  await page.getByLabel('メールアドレス').fill(email);
  await page.getByLabel('パスワード').fill(password);
  await page.getByRole('button', { name: 'ログイン' }).click();
  await page.getByRole('button', { name: 'ログアウト' }).waitFor();
}
