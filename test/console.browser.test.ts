/**
 * The console in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run) driven by
 * playwright-core, against the service started as production does (startService) on the demo's data:
 * `npm run demo -- --no-serve` (small sizes) on the embedded defaults in a temporary directory, plus a
 * second trained version to publish from the Models view.
 *
 * With CONSOLE_SCREENSHOTS=<dir> (npm run docs:screenshots) each view is saved there as a PNG.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningService, startService } from '../src/api/start-service.js';
import { createLogger } from '../src/api/logger.js';
import { readBundle } from '../src/bundle/read-bundle.js';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { parseConfig } from '../src/config.js';
import type { SqlStore } from '../src/store/sql-store.js';

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
const KEY = 'console-key-0001';
const root = join(import.meta.dirname, '..');
const shots = process.env.CONSOLE_SCREENSHOTS ? join(root, process.env.CONSOLE_SCREENSHOTS) : null;

/** Runs a project script with tsx on the embedded defaults in `dir` (no DATABASE_URL / REDIS_URL). */
function run(script: string, args: string[], dir: string): Promise<void> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME ?? dir, PGLITE_DIR: join(dir, 'pglite'), CACHE_DIR: join(dir, 'cache'), MODEL_DIR: join(dir, 'models') };
  return new Promise((resolve, reject) => {
    let err = '';
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited ${code}:\n${err}`))));
  });
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

describe('console in Chromium (demo data)', () => {
  let dir: string;
  let svc: RunningService;
  let context: BrowserContext;
  let page: Page;
  let v1: string;
  const v2 = 'console-v2';
  const withConsent: { loyalty: string; store: string } = { loyalty: '', store: '' };
  let withoutConsent = '';

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is missing at ${CHROMIUM}: the browser tests need Debian's package (apt-get install -y chromium; .ci/run installs it)`);
    }
    dir = mkdtempSync(join(tmpdir(), 'omnirec-console-'));
    await run('scripts/demo.ts', ['--no-serve', '--dir', join(dir, 'data'), '--customers', '300', '--products', '120', '--lines', '9000'], dir);
    const models = join(dir, 'models');
    // a second version to publish from the Models view: the same bundle under another name
    const [first] = readdirSync(models).filter((n) => n.startsWith('demo-'));
    v1 = first;
    const bundle = await readBundle(models, v1);
    bundle.manifest.version = v2;
    await writeBundle(models, bundle);

    const cfg = parseConfig({
      PGLITE_DIR: join(dir, 'pglite'),
      CACHE_DIR: join(dir, 'cache'),
      MODEL_DIR: models,
      API_KEYS: `${KEY}:associate+admin`,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE_MS: '1000',
    });
    svc = await startService(cfg, { logger: createLogger('silent'), defaultMetrics: false });
    // a loyalty card of a customer with personalisation consent (and their favourite store), one without
    const db = (svc.store as SqlStore).db;
    const pick = (granted: boolean) =>
      db.query<{ value: string; store: string | null }>(
        `SELECT i.value,
                (SELECT o.store_id FROM orders o WHERE o.customer_id = i.customer_id AND o.store_id IS NOT NULL
                  GROUP BY o.store_id ORDER BY count(*) DESC, o.store_id LIMIT 1) AS store
           FROM customer_identifiers i
           JOIN LATERAL (SELECT granted FROM consent k WHERE k.customer_id = i.customer_id AND k.purpose = 'personalisation'
                          ORDER BY at DESC, id DESC LIMIT 1) k ON true
          WHERE i.kind = 'loyalty' AND k.granted = $1
          ORDER BY (SELECT count(*) FROM orders o WHERE o.customer_id = i.customer_id) DESC, i.value LIMIT 1`,
        [granted],
      );
    const yes = (await pick(true)).rows[0];
    const no = (await pick(false)).rows[0];
    expect(yes, 'the demo data has a loyalty customer with personalisation consent').toBeDefined();
    expect(no, 'the demo data has a loyalty customer who refused personalisation').toBeDefined();
    withConsent.loyalty = yes.value;
    withConsent.store = yes.store ?? 'S001';
    withoutConsent = no.value;

    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1024, height: 768 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    if (shots) mkdirSync(shots, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await svc?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const shot = async (name: string) => {
    if (shots) await page.screenshot({ path: join(shots, `console-${name}.png`) });
  };

  it('loads with the demo data: asks for the key once, shows the live model', async () => {
    await page.goto(`${svc.url}/console`);
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
    await page.getByLabel('Value').fill(withConsent.loyalty);
    await page.getByLabel('Your store').fill(withConsent.store);
    await page.getByRole('button', { name: 'Look up' }).click();
    await visible(page.locator('#card-title'));
    const recs = page.getByRole('list', { name: 'Recommendations' }).locator('li');
    expect(await recs.count()).toBeGreaterThan(0);
    for (const li of await recs.all()) {
      expect((await li.locator('.title').textContent())?.trim()).not.toBe('');
      await text(li.locator('.why'), /^(Because they bought|Similar to|Popular|Best seller|Matches)/);
    }
    await visible(page.getByRole('heading', { name: `Suggest from store ${withConsent.store}` }));
    await visible(page.getByRole('table', { name: 'Last purchases across channels' }));
    await shot('customers');
  });

  it('a customer without personalisation consent gets no recommendations, and the card says why', async () => {
    await page.getByLabel('Value').fill(withoutConsent);
    await page.getByRole('button', { name: 'Look up' }).click();
    await visible(page.getByText('No recommendations: the customer has not given personalisation consent.'));
    expect(await page.getByRole('list', { name: 'Recommendations' }).count()).toBe(0);
  });

  it('products: search by title, then similar items, bought together and stock by store', async () => {
    await page.getByRole('link', { name: 'Products' }).click();
    const firstRec = (await svc.store.searchProducts('SKU0000', 1))[0];
    await page.getByLabel('Sku or title').fill(firstRec.sku);
    await page.getByRole('button', { name: 'Search' }).click();
    await text(page.locator('#product-title'), firstRec.title ?? firstRec.sku);
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
    const ready = (await (await fetch(`${svc.url}/readyz`, { headers: { 'x-api-key': KEY } })).json()) as { model: { version: string } };
    expect(ready.model.version).toBe(v2);
    await text(page.locator('#live-model'), `Live: ${v2}`);
    await visible(page.getByRole('article', { name: `Version ${v2}` }).locator('.badge', { hasText: /^Live$/ }));
  });

  it('offers view and the console assets: content types and a self-only CSP', async () => {
    await page.getByRole('link', { name: 'Offers' }).click();
    await visible(page.locator('#view-offers'));
    await shot('offers');
    for (const [path, type] of [
      ['/console', 'text/html'],
      ['/console/console.js', 'text/javascript'],
      ['/console/console.css', 'text/css'],
    ]) {
      const r = await fetch(svc.url + path);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain(type);
      expect(r.headers.get('content-security-policy')).toContain("default-src 'none'; script-src 'self'");
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});
