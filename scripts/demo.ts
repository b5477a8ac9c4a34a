/**
 * npm run demo: the newcomer's one command. Generates a synthetic omnichannel data set, imports it into the
 * history store, trains every model, publishes the bundle to the vector cache and starts the service.
 * Each step is the CLI a user would run (npm run generate / import / train / publish / start), so the demo
 * exercises exactly what production does; on a machine with no DATABASE_URL / REDIS_URL it runs on the
 * embedded defaults (PGlite in PGLITE_DIR, the in-process cache in CACHE_DIR).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { config } from '../src/config.js';

const spec = defineCli({
  name: 'npm run demo --',
  summary:
    'Builds a demo data set, imports it, trains, publishes and serves: generate → import → train → publish → start.',
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
  await step('import', 'scripts/import.ts', [flags.dir]);
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
      `  curl -s ${base}/openapi.json`,
      '',
    ].join('\n'),
  );
  await step('start', 'src/server.ts', [], env);
}, 'demo');
