/**
 * npm run bench:profile -- [--data FILE] [--connections 20] [--seconds 10] [--customers 2000]
 *
 * The clienteling card (GET /v1/customers/{id}/profile?store=…) under load, as production serves it:
 * the Online Retail file imported into a fresh PostgreSQL database (DATABASE_URL's server, created and
 * dropped), a model trained on that store (npm run train) and published to Redis (REDIS_URL) under a
 * throwaway CACHE_PREFIX, the service in its own process (src/server.ts, as `npm start`). Online Retail
 * has no consent, stores or stock: the bench records personalisation consent for every customer and
 * stocks one store, S1, with 60% of the catalogue (chosen by a hash of the sku), so every card carries
 * recommendations filtered by stock. Loads it with wrk when on PATH, else autocannon (load-generator.ts),
 * cycling through `--customers` customers drawn at random; prints req/s, p50/p99, CPU µs per request
 * of the service and the load average, and whether p99 is within the target (50 ms at 20 connections).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBundle } from '../src/bundle/read-bundle.js';
import { cacheKeys } from '../src/cache/keys.js';
import { openVectorCache } from '../src/cache/open-vector-cache.js';
import { publishBundle } from '../src/cache/publish.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { parseConfig } from '../src/config.js';
import { mulberry32 } from '../src/core/random.js';
import { openStore } from '../src/store/open-store.js';
import type { SqlStore } from '../src/store/sql-store.js';
import { benchStore, dropPrefix, serveProcess } from './bench-kit.js';
import { autocannonWorker, chooseLoader, LOADERS } from './load-generator.js';

const spec = defineCli({
  name: 'npm run bench:profile --',
  summary: 'Load-tests the clienteling card (GET /v1/customers/{id}/profile) on Online Retail in PostgreSQL with its bundle in Redis.',
  flags: {
    data: { type: 'string', placeholder: 'FILE', description: 'orders file to import and train on [default: ../shared/data/online_retail.csv.gz]' },
    connections: { type: 'int', default: 20, description: 'concurrent connections' },
    seconds: { type: 'int', default: 10, description: 'seconds of load (after a 2 s warm-up)' },
    customers: { type: 'int', default: 2000, description: 'customers the requests cycle through' },
    target: { type: 'int', default: 50, description: 'p99 target, ms' },
    json: { type: 'boolean', description: 'one JSON document on stdout' },
    'cpu-prof': { type: 'string', placeholder: 'DIR', description: "write the service's CPU profile (node --cpu-prof) into DIR" },
    loader: { type: 'string', choices: LOADERS, placeholder: 'NAME', description: 'load generator (default: wrk when on PATH, else autocannon)' },
    worker: { type: 'string', placeholder: 'FILE', description: '(internal) run one autocannon load from this JSON spec file' },
  },
  epilog: 'Needs PostgreSQL (DATABASE_URL, default the local server) and Redis (REDIS_URL, default redis://127.0.0.1:6379).\nExit codes: 0 ok, 1 failure, 2 bad usage.',
});

const KEY = 'bench-key-0001';
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

/** Runs a project CLI (tsx) with `env` added; stdout discarded, stderr shown; rejects on failure. */
function cli(script: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited ${code}`))));
  });
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

runCli(async () => {
  const { flags } = parseCli(spec);
  if (flags.worker) return autocannonWorker(flags.worker);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const data = flags.data ?? join(root, '..', 'shared', 'data', 'online_retail.csv.gz');
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const loader = chooseLoader(flags.loader);
  const prefix = `omnirec-bench-profile-${process.pid}`;
  const modelDir = mkdtempSync(join(tmpdir(), 'omnirec-bench-profile-'));
  const db = await benchStore(databaseUrl, prefix);
  let service: Awaited<ReturnType<typeof serveProcess>> | null = null;
  try {
    const storeEnv = { ...db.env, PGLITE_DIR: 'memory://', REDIS_URL: redisUrl, CACHE_PREFIX: prefix, MODEL_DIR: modelDir, LOG_LEVEL: 'warn' };
    log(`load generator: ${loader.name}; importing ${data} into a fresh PostgreSQL database`);
    await db.store.close();
    await cli('import.ts', [data, '--json'], storeEnv);
    log('training on the store (npm run train)');
    await cli('train.ts', ['--version', 'bench-profile', '--quiet'], storeEnv);

    // what Online Retail lacks: consent (granted to everyone) and one stocked store
    const store = (await openStore(parseConfig(storeEnv))) as SqlStore;
    let ids: string[];
    try {
      await store.db.query(
        `INSERT INTO consent (customer_id, purpose, granted, at, source)
         SELECT id, 'personalisation', true, now(), 'bench' FROM customers`,
      );
      await store.db.query(`INSERT INTO stores (id, name) VALUES ('S1', 'Bench store') ON CONFLICT DO NOTHING`);
      await store.db.query(`INSERT INTO store_inventory (store_id, sku, quantity) SELECT 'S1', sku, 10 FROM products WHERE abs(hashtext(sku)) % 10 < 6`);
      const all = (await store.db.query<{ id: string }>('SELECT c.id::text AS id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY c.id')).rows.map((r) => r.id);
      const r = mulberry32(42);
      const picked = new Set<string>();
      while (picked.size < Math.min(flags.customers, all.length)) picked.add(all[Math.floor(r() * all.length)]);
      ids = [...picked];
    } finally {
      await store.close();
    }

    const bundle = await readBundle(modelDir, 'bench-profile');
    const cache = await openVectorCache(parseConfig(storeEnv), { require: true });
    try {
      const pub = await publishBundle(cache, cacheKeys(prefix), bundle, { version: 'bench-profile' });
      log(`published ${pub.items} items, ${pub.customers} customers to ${redisUrl} (prefix ${prefix}); ${ids.length} customers sampled`);
    } finally {
      await cache.close();
    }

    service = await serveProcess('service', join(root, 'src', 'server.ts'), {
        ...storeEnv,
        API_KEYS: `${KEY}:associate`,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: '2000',
      },
      '/readyz',
      flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${flags['cpu-prof']}`] : [],
    );
    const path = (id: string) => `/v1/customers/${id}/profile?store=S1&limit=10`;
    const first = await fetch(service.url + path(ids[0]), { headers: { 'x-api-key': KEY } });
    const card = (await first.json()) as { recommendations?: { items: unknown[]; reason?: string }; recentPurchases?: unknown[] };
    if (first.status !== 200) throw new Error(`the card answered ${first.status}: ${JSON.stringify(card)}`);
    log(`sample card: ${card.recommendations?.items.length} recommendations${card.recommendations?.reason ? ` (${card.recommendations.reason})` : ''}, ${card.recentPurchases?.length} recent purchases`);

    const before = load();
    log(`loading ${flags.connections} connections for ${flags.seconds} s (load average before: ${before})`);
    const res = await loader.run({
      url: service.url,
      pid: service.pid,
      connections: flags.connections,
      seconds: flags.seconds,
      headers: { 'x-api-key': KEY },
      requests: Array.from({ length: Math.min(ids.length, 4000) }, (_, i) => ({ method: 'GET' as const, path: path(ids[i % ids.length]) })),
    });
    const after = load();
    const ok = res.p99 <= flags.target && res.non2xx + res.errors === 0;
    const out = { loader: loader.name, connections: flags.connections, seconds: flags.seconds, customers: ids.length, ...res, loadavgBefore: before, loadavgAfter: after, targetMs: flags.target, ok };
    if (flags.json) process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
    else {
      process.stdout.write(
        `GET /v1/customers/{id}/profile?store=S1&limit=10, ${loader.name}, ${flags.connections} connections, ${flags.seconds} s, ${ids.length} customers\n` +
          `  ${res.rps.toFixed(0)} req/s  p50 ${res.p50.toFixed(1)} ms  p99 ${res.p99.toFixed(1)} ms  ${res.cpuUsPerReq.toFixed(0)} CPU µs/req  non-2xx ${res.non2xx + res.errors}\n` +
          `  load average before ${before}, after ${after}\n` +
          `  p99 ${ok ? '≤' : '>'} ${flags.target} ms: ${ok ? 'ok' : 'OVER TARGET'}\n`,
      );
    }
  } finally {
    await service?.close();
    await dropPrefix(redisUrl, prefix);
    await db.drop();
    rmSync(modelDir, { recursive: true, force: true });
  }
});
