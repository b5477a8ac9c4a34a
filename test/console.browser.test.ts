/**
 * The console in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run and npm test's
 * pretest) driven by playwright-core, against `npm run demo` itself (smaller sizes, embedded defaults in a
 * temporary directory, a free port): its first line is the console's address, it names a loyalty card with
 * and one without personalisation consent, and it serves with the key demo-key; a second version is written
 * to its MODEL_DIR to publish from the Models view.
 *
 * With CONSOLE_SCREENSHOTS=<dir> (npm run docs:screenshots) each view is saved there as a PNG.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../src/bundle/read-bundle.js';
import { writeBundle } from '../src/bundle/write-bundle.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];
const KEY = 'demo-key';
const root = join(import.meta.dirname, '..');
const shots = process.env.CONSOLE_SCREENSHOTS ? join(root, process.env.CONSOLE_SCREENSHOTS) : null;

/** A free loopback port (the OS picks one; the demo binds it right after). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Waits (15 s at most) until the locator is visible; fails naming it otherwise. */
const visible = (l: Locator) => l.first().waitFor({ state: 'visible', timeout: 15_000 });
const hidden = (l: Locator) => l.first().waitFor({ state: 'hidden', timeout: 15_000 });
/** Waits (15 s at most) until the locator's text is (or matches) `want`; fails with the text it had. */
async function text(l: Locator, want: string | RegExp): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last: string | null = null;
  for (;;) {
    last = (await l.count()) > 0 ? await l.first().textContent() : null;
    if (last !== null && (typeof want === 'string' ? last === want : want.test(last))) return;
    if (Date.now() > deadline) throw new Error(`expected text ${String(want)}, found ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('console in Chromium (npm run demo)', () => {
  let dir: string;
  let demo: ChildProcess;
  let out = '';
  let base = '';
  let context: BrowserContext;
  let page: Page;
  let v1: string;
  const v2 = 'console-v2';
  /** The loyalty cards the demo suggests: an owner with personalisation consent, one who refused it. */
  let withConsent = '';
  let withoutConsent = '';
  const store = 'S001';
  /** Every URL the page asked for: nothing but the service itself (no CDN, fonts, scripts from elsewhere). */
  const requested: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is missing at ${CHROMIUM}: the browser tests need Debian's package (apt-get install -y chromium; .ci/run installs it)`);
    }
    dir = mkdtempSync(join(tmpdir(), 'omnirec-console-'));
    // `npm run demo` on the embedded defaults (smaller than its defaults), serving on a free port
    const port = await freePort();
    demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--dir', join(dir, 'data'), '--customers', '300', '--products', '120', '--lines', '9000'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME ?? dir, PGLITE_DIR: join(dir, 'pglite'), CACHE_DIR: join(dir, 'cache'), MODEL_DIR: join(dir, 'models'), HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    demo.stdout!.on('data', (d) => ((stdout += d), (out += d)));
    demo.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
    base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 280_000;
    for (;;) {
      if (demo.exitCode !== null) throw new Error(`npm run demo exited ${demo.exitCode} before serving:\n${out}`);
      const ready = /== serving model/.test(out) && (await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false));
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`npm run demo not serving after 280 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // the console's address is the demo's first line
    expect(stdout.split('\n')[0]).toBe(`omnirec console: http://localhost:${port}/console (opens once the steps below have finished)`);
    v1 = /== serving model (\S+) on/.exec(out)![1];
    const cards = /look up loyalty card (\S+) \(personalisation consent: recommendations\) or (\S+) \(refused/.exec(out);
    expect(cards, 'the demo names a loyalty card with and one without personalisation consent').not.toBeNull();
    [, withConsent, withoutConsent] = cards!;

    // a second version to publish from the Models view: the same bundle under another name
    const models = join(dir, 'models');
    const bundle = await readBundle(models, v1);
    bundle.manifest.version = v2;
    await writeBundle(models, bundle);

    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1024, height: 768 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    page.on('request', (r) => requested.push(r.url()));
    if (shots) mkdirSync(shots, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    if (demo && demo.exitCode === null) {
      // SIGTERM reaches the service through the demo (it passes the signal on)
      const exited = new Promise((r) => demo.once('exit', r));
      demo.kill('SIGTERM');
      const timer = setTimeout(() => demo.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const shot = async (name: string) => {
    if (shots) await page.screenshot({ path: join(shots, `console-${name}.png`) });
  };

  it('loads with the demo data: asks for the key once, shows the live model', async () => {
    await page.goto(`${base}/console`);
    await visible(page.locator('#view-key'));
    await page.getByRole('textbox', { name: 'API key' }).fill(KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await visible(page.locator('#view-customers'));
    await text(page.locator('#live-model'), `Live: ${v1}`);
    // kept for the session: a reload does not ask again
    await page.reload();
    await visible(page.locator('#view-customers'));
    await hidden(page.locator('#view-key'));
  });

  it('a lookup shows the card with recommendations in stock in the store, with titles and reasons in words', async () => {
    await page.getByLabel('Look up by').selectOption('loyalty');
    await page.getByLabel('Value').fill(withConsent);
    await page.getByLabel('Your store').fill(store);
    await page.getByRole('button', { name: 'Look up' }).click();
    await visible(page.locator('#card-title'));
    const recs = page.getByRole('list', { name: 'Recommendations' }).locator('li');
    expect(await recs.count()).toBeGreaterThan(0);
    for (const li of await recs.all()) {
      expect((await li.locator('.title').textContent())?.trim()).not.toBe('');
      await text(li.locator('.why'), /^(Because they bought|Similar to|Popular|Best seller|Matches)/);
    }
    await visible(page.getByRole('heading', { name: `Suggest from store ${store}` }));
    await visible(page.getByRole('table', { name: 'Last purchases across channels' }));
    await shot('customers');
  });

  it('a customer without personalisation consent gets no recommendations, and the card says why', async () => {
    // by keyboard: Enter in the field submits the lookup
    await page.getByLabel('Value').fill(withoutConsent);
    await page.getByLabel('Value').press('Enter');
    await visible(page.getByText('No recommendations: the customer has not given personalisation consent.'));
    expect(await page.getByRole('list', { name: 'Recommendations' }).count()).toBe(0);
  });

  it('products: search by title, then similar items, bought together and stock by store', async () => {
    await page.getByRole('link', { name: 'Products' }).click();
    await page.getByLabel('Sku or title').fill('SKU00001');
    await page.getByRole('button', { name: 'Search' }).click();
    await visible(page.getByRole('article', { name: /./ }).locator('.badge', { hasText: /^SKU00001$/ }));
    expect(await page.getByRole('list', { name: 'Similar items' }).locator('li').count()).toBeGreaterThan(0);
    await visible(page.getByRole('table', { name: 'Stock by store' }));
    await shot('products');
  });

  it('publishing a version from the models view changes the version /readyz reports', async () => {
    await page.getByRole('link', { name: 'Models' }).click();
    await visible(page.getByRole('article', { name: `Version ${v1}` }).locator('.badge', { hasText: /^Live$/ }));
    await visible(page.locator('.chart svg').first());
    await shot('models');
    await page.getByRole('button', { name: `Publish ${v2}` }).click();
    await text(page.locator('#status'), `Version ${v2} is live.`);
    const ready = (await (await fetch(`${base}/readyz`, { headers: { 'x-api-key': KEY } })).json()) as { model: { version: string } };
    expect(ready.model.version).toBe(v2);
    await text(page.locator('#live-model'), `Live: ${v2}`);
    await visible(page.getByRole('article', { name: `Version ${v2}` }).locator('.badge', { hasText: /^Live$/ }));
  });

  it('offers view; the console asked nothing of another origin; assets with their content types and a self-only CSP', async () => {
    await page.getByRole('link', { name: 'Offers' }).click();
    await visible(page.locator('#view-offers'));
    await shot('offers');
    expect(requested.length).toBeGreaterThan(5);
    expect(requested.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith('data:'))).toEqual([]);
    for (const [path, type] of [
      ['/console', 'text/html'],
      ['/console/console.js', 'text/javascript'],
      ['/console/console.css', 'text/css'],
    ]) {
      const r = await fetch(base + path);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain(type);
      expect(r.headers.get('content-security-policy')).toContain("default-src 'none'; script-src 'self'");
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});
