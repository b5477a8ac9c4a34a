/**
 * npm run bench:nbo-path -- --bundle DIR [--seconds 40] [--concurrency 50] [--pglite]
 *
 * Next best offer's CPU per decision in the service's own code, without HTTP: the app (createApp, as the server
 * builds it, logging off) over a fresh store with bench:offers' customers, offers and stock, and the bundle served
 * from memory; `--concurrency` decisions at a time through OfferService.decideFor (customer access, facts, decide,
 * the decision log and its writes, the periodic reloads and refreshes) for `--seconds` after a cold pass over every
 * customer. Prints this process's CPU µs per decision and the PostgreSQL backends' (from /proc; with --pglite the
 * store runs in this process and is counted in the first), statements per decision, and decisions per second.
 * Meant for side-by-side runs on a shared machine: CPU per decision does not depend on how much of a core one gets.
 */
import pg from 'pg';
import { createApp } from '../src/api/create-app.js';
import { createLogger } from '../src/api/logger.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import type { OfferChannel } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import type { OrderLine } from '../src/core/records.js';
import { parseFallbackChain } from '../src/serve/fallback-chain.js';
import { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import { benchOffers, benchStock, benchStore, cpuUs, storeFigures, storePhase, unifiedIds, benchBundle } from './bench-kit.js';

const spec = defineCli({
  name: 'npm run bench:nbo-path --',
  summary: "Next best offer's CPU per decision in the service's code (no HTTP), and PostgreSQL's.",
  flags: {
    bundle: { type: 'string', placeholder: 'DIR', description: 'a trained bundle (models/<version>)' },
    seconds: { type: 'int', default: 40, description: 'seconds measured (the reload runs every 30 s, refreshes after 15 s)' },
    concurrency: { type: 'int', default: 50, description: 'decisions in flight' },
    customers: { type: 'int', default: 2000, description: 'customers sampled' },
    pglite: { type: 'boolean', description: 'an embedded PGlite directory instead of a fresh PostgreSQL database' },
  },
  epilog: 'Example: npm run bench:nbo-path -- --bundle /work/bundles/or/v1',
});

const DAY = 86_400_000;
runCli(async () => {
  const { flags } = parseCli(spec);
  const bundle = await benchBundle(flags.bundle);
  const now = Date.now();
  const db = await benchStore(flags.pglite ? null : process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test', `omnirec-bench-nbo-path-${process.pid}`);
  const store = db.store;
  const r = mulberry32(42);
  // bench:offers' population: sampled customers with one order each (their own items), consent, two stores' stock
  const withVector = bundle.customers.map((c, i) => (c.vector ? i : -1)).filter((i) => i >= 0);
  const sample = new Set<number>();
  while (sample.size < Math.min(flags.customers, withVector.length)) sample.add(withVector[Math.floor(r() * withVector.length)]);
  const lines: OrderLine[] = [];
  for (const c of sample) {
    const rec = bundle.customers[c];
    for (let p = 0; p < Math.min(3, rec.items.length); p++) {
      lines.push({
        orderId: `bench-${rec.customerId}`, channel: 'web', storeId: null, time: Math.min(now - DAY, rec.lastTime[p] || now - 30 * DAY),
        identifiers: [{ kind: 'external', value: rec.customerId }], sku: bundle.items[rec.items[p]], title: null, category: null,
        quantity: 1 + (p % 2), unitPrice: 2.5 + p, cancels: null, lineNo: p + 1,
      });
    }
  }
  await store.importLines(lines);
  await store.importConsent(
    [...sample].flatMap((c, k) => {
      const identifiers = [{ kind: 'external' as const, value: bundle.customers[c].customerId }];
      const purposes = k % 2 === 0 ? (['personalisation', 'push', 'email'] as const) : (['personalisation'] as const);
      return purposes.map((purpose) => ({ identifiers, purpose, granted: true, time: now - DAY, source: 'bench' }));
    }),
  );
  const ids = await unifiedIds(store, bundle, sample);
  await store.setInventory(benchStock(bundle.items));
  await store.putOffers(benchOffers(200, Array.from(bundle.popular.global.items.subarray(0, 2000), (i) => bundle.items[i]), now));
  const inventory = new InventorySnapshot(() => store.inventory());
  await inventory.refresh();
  const app = createApp({
    store,
    source: staticModelSource(bundle),
    inventory,
    logger: createLogger('silent'),
    apiKeys: null,
    chain: parseFallbackChain('personal,neighbours,segment,popular'),
    defaultMetrics: false,
  });
  const monitor = db.env.DATABASE_URL ? new pg.Client({ connectionString: db.env.DATABASE_URL }) : null;
  await monitor?.connect();
  const pick = () => {
    const c = r();
    const channel: OfferChannel = c < 0.5 ? 'web' : c < 0.75 ? 'app' : 'store';
    return { id: ids[Math.floor(r() * ids.length)], options: { channel, limit: 3, ...(channel === 'store' ? { store: `S${1 + Math.floor(r() * 2)}` } : {}) } };
  };
  try {
    // cold pass: every customer's first decision
    for (let i = 0; i < ids.length; i += flags.concurrency) {
      await Promise.all(ids.slice(i, i + flags.concurrency).map((id) => app.offers.decideFor(id, { channel: 'web', limit: 3 })));
    }
    await app.offers.flushDecisions();
    const p0 = await storeFigures(monitor);
    const c0 = cpuUs();
    const t0 = performance.now();
    const end = t0 + flags.seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: flags.concurrency }, async () => {
        while (performance.now() < end) {
          const q = pick();
          await app.offers.decideFor(q.id, q.options);
          n++;
        }
      }),
    );
    await app.offers.flushDecisions();
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuUs() - c0;
    await new Promise((res) => setTimeout(res, 1100)); // backends flush their transaction counts
    const p1 = await storeFigures(monitor);
    const pgPhase = storePhase(p0, p1, n);
    const stats = app.offers.stats();
    process.stdout.write(
      `${monitor ? 'postgresql' : 'pglite'}: ${n} decisions in ${wall.toFixed(1)} s (${(n / wall).toFixed(0)}/s, ${flags.concurrency} in flight): ` +
        `this process ${(cpu / n).toFixed(1)} CPU µs/decision; PostgreSQL ${pgPhase.pgCpuUsPerReq.toFixed(1)} CPU µs/decision, ` +
        `${pgPhase.pgXactsPerReq.toFixed(4)} transactions/decision; logged ${stats.decisionsLogged}, queued ${stats.decisionsQueued}, dropped ${stats.decisionsDropped}\n`,
    );
  } finally {
    await app.offers.close();
    await monitor?.end();
    await db.drop();
  }
});
