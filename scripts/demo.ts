/**
 * npm run demo: the newcomer's one command. Generates a synthetic omnichannel data set, imports it into the
 * history store, trains every model, publishes the bundle to the vector cache and starts the service.
 * Each step is the CLI a user would run (npm run generate / import / train / publish / start), so the demo
 * exercises exactly what production does; on a machine with no DATABASE_URL / REDIS_URL it runs on the
 * embedded defaults (PGlite in PGLITE_DIR, the in-process cache in CACHE_DIR).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { config } from '../src/config.js';

const spec = defineCli({
  name: 'npm run demo --',
  summary:
    'Builds a demo data set (with a set of offers), imports it, trains, publishes and serves: generate → import → train → publish → start.',
  flags: {
    dir: { type: 'string', default: '.data/demo', placeholder: 'DIR', description: 'where the generated data set goes' },
    customers: { type: 'int', default: 2000, description: 'people in the generated data set' },
    products: { type: 'int', default: 500, description: 'catalogue size' },
    lines: { type: 'int', default: 60000, description: 'order lines' },
    seed: { type: 'int', default: 42, description: 'random seed' },
    serve: { type: 'boolean', default: true, description: 'start the service at the end (--no-serve to stop after publishing)' },
  },
  epilog: 'Configuration comes from the environment (README "Configuration"). Exit codes: 0 ok, 1 failure, 2 bad usage.',
});

/** The step running now: a SIGTERM or SIGHUP sent to the demo alone (not to its process group, as
 * Ctrl-C is) is passed on, so that the service shuts down with it instead of outliving it. */
let running: ChildProcess | null = null;
for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => (running ? running.kill(sig) : process.exit(1)));

/** Runs one project script with tsx, inheriting stdio; rejects on a non-zero exit. */
function step(title: string, script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  process.stderr.write(`\n== ${title}: npm run ${script.replace(/^scripts\/|\.ts$/g, '')} -- ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: 'inherit', env });
    running = child;
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      running = null;
      if (code === 0) resolve();
      else reject(new Error(`${title} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** A realistic starting set of offers for the generated retailer (categories and stores of src/generate). */
function demoOffers(): Record<string, unknown>[] {
  const day = 86_400_000;
  const from = new Date(Date.now() - 7 * day).toISOString();
  const contact = { maxImpressions: 3, perDays: 30, suppressDaysAfterDecline: 14 };
  return [
    { id: 'winback-15', title: '15% off to welcome you back', kind: 'percent_off', value: 12, cost: 3, channels: ['store', 'app', 'web', 'email'],
      startsAt: from, eligibility: { segments: ['lapsed', 'at_risk'], minOrders: 1, minDaysSinceLastPurchase: 60 }, contact, weight: 1.2 },
    { id: 'vip-early-access', title: 'Early access to the winter sale', kind: 'service', value: 25, cost: 1, startsAt: from,
      eligibility: { segments: ['vip', 'loyal'] }, contact: { maxImpressions: 2, perDays: 30 } },
    { id: 'vip-free-delivery', title: 'Free delivery on every order this month', kind: 'free_shipping', value: 15, cost: 4, channels: ['web', 'app'],
      startsAt: from, eligibility: { segments: ['vip', 'high_aov'] }, contact },
    { id: 'second-purchase-5', title: '£5 off your second order', kind: 'amount_off', value: 18, cost: 5, channels: ['web', 'app', 'email'],
      startsAt: from, eligibility: { minOrders: 1, maxOrders: 1, newCustomersOnly: true }, contact: { ...contact, maxAcceptances: 500 } },
    { id: 'coffee-20', title: '20% off coffee in store this week', kind: 'percent_off', value: 8, cost: 2, targets: { skus: [], categories: ['Coffee'] },
      channels: ['store'], stores: ['S001', 'S002'], startsAt: from, endsAt: new Date(Date.now() + 7 * day).toISOString(), contact },
    { id: 'tea-bundle', title: 'Three teas for the price of two', kind: 'bundle', value: 10, cost: 3, targets: { skus: [], categories: ['Tea'] }, startsAt: from, contact },
    { id: 'wine-tasting', title: 'Free wine tasting on Saturday', kind: 'service', value: 20, cost: 6, targets: { skus: [], categories: ['Wine'] },
      channels: ['store', 'email'], stores: ['S003'], startsAt: from, eligibility: { minSpend: 100 }, contact },
    { id: 'double-points', title: 'Double loyalty points on your next visit', kind: 'loyalty_points', value: 6, cost: 1.5, channels: ['store', 'app'],
      startsAt: from, eligibility: { segments: ['repeat', 'loyal'] }, contact },
    { id: 'garden-10', title: '10% off garden furniture', kind: 'percent_off', value: 14, cost: 4, targets: { skus: [], categories: ['Garden'] },
      startsAt: from, endsAt: new Date(Date.now() + 60 * day).toISOString(), contact },
  ];
}

/**
 * Loyalty cards of the demo data to try in the console: one whose owner granted personalisation
 * consent (recommendations show) and one whose owner refused it (the card says why there are none).
 * The generator records each person's choice once, under the identifiers of their first channel.
 */
function demoCards(dir: string): { granted?: string; refused?: string } {
  const out: { granted?: string; refused?: string } = {};
  let text: string;
  try {
    text = readFileSync(join(dir, 'consent.csv'), 'utf8');
  } catch {
    return out;
  }
  // account,email,phone,loyalty,device,external,purpose,granted,time,source
  for (const row of text.split('\n').slice(1)) {
    const f = row.split(',');
    if (f[6] !== 'personalisation' || !f[3]) continue;
    if (f[7] === 'true') out.granted ??= f[3];
    else out.refused ??= f[3];
    if (out.granted && out.refused) break;
  }
  return out;
}

runCli(async () => {
  const { flags } = parseCli(spec);
  const cfg = config();
  const consoleUrl = `http://localhost:${cfg.PORT}/console`;
  // the console's address comes first, before every step's output
  if (flags.serve) process.stdout.write(`omnirec console: ${consoleUrl} (opens once the steps below have finished)\n`);
  const version = `demo-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;

  if (existsSync(join(flags.dir, 'summary.json'))) {
    process.stderr.write(`\n== generate: ${flags.dir} exists, reusing it (delete it to regenerate)\n`);
  } else {
    // a year of history ending today, so "buy it again" timing and trending look live
    const start = new Date(Date.now() - 365 * 86_400_000).toISOString().slice(0, 10);
    await step('generate', 'scripts/generate.ts', [
      '--out', flags.dir, '--start', start, '--days', '365', '--customers', String(flags.customers), '--products', String(flags.products),
      '--lines', String(flags.lines), '--seed', String(flags.seed),
    ]);
  }
  // the offers a retailer would start with (offers.json), imported with the generated files: named one by one,
  // as a directory import would also take the generator's summary.json for a file of offers
  writeFileSync(join(flags.dir, 'offers.json'), JSON.stringify({ offers: demoOffers() }, null, 2) + '\n');
  await step('import', 'scripts/import.ts', ['orders.csv', 'inventory.csv', 'consent.csv', 'offers.json'].map((f) => join(flags.dir, f)));
  await step('train', 'scripts/train.ts', ['--version', version, '--evaluate']);
  await step('publish', 'scripts/publish.ts', [version]);
  if (!flags.serve) return;

  const env = { ...process.env };
  if (!cfg.API_KEYS && !cfg.AUTH_DISABLED) {
    env.API_KEYS = 'demo-key:storefront+associate+events+admin';
    process.stderr.write('\n== no API_KEYS configured: the demo uses the key "demo-key" (all scopes)\n');
  }
  const base = `http://localhost:${cfg.PORT}`;
  const cards = demoCards(flags.dir);
  process.stdout.write(`\nomnirec console: ${consoleUrl}${env.API_KEYS?.startsWith('demo-key:') ? ' (API key demo-key)' : ''}\n`);
  process.stderr.write(
    [
      cards.granted || cards.refused
        ? `   look up loyalty card ${cards.granted ?? '…'} (personalisation consent: recommendations) or ${cards.refused ?? '…'} (refused: none, and why), store S001`
        : '',
      `== serving model ${version} on ${base} (Ctrl-C stops). Try:`,
      `  curl -s ${base}/readyz`,
      `  curl -s -H 'x-api-key: demo-key' ${base}/v1/customers/lookup?loyalty=LC000000001`,
      `  curl -s -H 'x-api-key: demo-key' '${base}/v1/customers/1/profile?store=S001'    # the clienteling card`,
      `  curl -s -H 'x-api-key: demo-key' '${base}/v1/items/SKU00001/similar?limit=5'`,
      `  curl -s -H 'x-api-key: demo-key' -H 'content-type: application/json' -d '{"items":["SKU00001"],"channel":"app"}' ${base}/v1/baskets/recommendations`,
      `  curl -s -H 'x-api-key: demo-key' -H 'content-type: application/json' -d '{"orderId":"demo-1","channel":"app","identifiers":{"loyalty":"LC000000001"},"lines":[{"sku":"SKU00002","quantity":1}]}' ${base}/v1/events/purchases`,
      '  # next best offer (the demo offers: win-back, VIP perks, a second-purchase incentive, category promotions in some stores)',
      `  curl -s -H 'x-api-key: demo-key' '${base}/v1/customers/1/next-best-offer?channel=store&store=S001&limit=3'`,
      `  curl -s -H 'x-api-key: demo-key' -H 'content-type: application/json' -d '{"items":["SKU00001"],"channel":"web","limit":2}' ${base}/v1/sessions/next-best-offer`,
      `  curl -s -H 'x-api-key: demo-key' -H 'content-type: application/json' -d '{"eventId":"demo-e1","offerId":"winback-15","customerId":"1","channel":"store","type":"impression"}' ${base}/v1/events/offers`,
      `  curl -s -H 'x-api-key: demo-key' ${base}/v1/admin/offers`,
      `  curl -s ${base}/openapi.json`,
      '',
    ].join('\n'),
  );
  await step('start', 'src/server.ts', [], env);
}, 'demo');
