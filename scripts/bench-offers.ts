/**
 * npm run bench:offers -- [--data FILE | --bundle DIR] [--offers 200] [--connections 50] [--seconds 10] [--rounds 2] [--json]
 *
 * Next best offer under load, measured side by side with the similar-items endpoint in the same run:
 * trains on Online Retail (../shared/data/online_retail.csv.gz, through `npm run train`) or reads
 * --bundle, gives its items 40 categories (Online Retail has none; offers target categories too),
 * registers --customers sampled customers in a fresh PostgreSQL database (DATABASE_URL or the local
 * server; --pglite: a PGlite directory) with one order each (their own items), consent (personalisation;
 * push and email for half) and two stores' inventory, stores --offers generated active offers (seeded:
 * segments, targets, channels, stores, windows, contact rules), publishes to Redis under a throwaway
 * prefix, and starts the service in its own process as `npm start` does (real auth, logging on).
 *
 *  1. a cold pass: every sampled customer's first decision (their facts read from the store once);
 *  2. --rounds times: similar items, then next-best-offer (GET /v1/customers/{id}/next-best-offer,
 *     channel web/app/store, limit 3), each --seconds at --connections (wrk, else autocannon);
 *  3. offer events: POST /v1/events/offers with unique event ids (autocannon: wrk's script cannot hold
 *     100,000 bodies), each stored durably (synchronous commit, group-committed) before its 200; the
 *     rows stored are counted afterwards.
 * Prints req/s, p50/p99 and CPU µs per request of each, NBO as % of similar, events/s, the service's GC (ms per s,
 * by kind) and event-loop delay (p99, max) over each load (from its /metrics), and the load average.
 * --cpu-prof DIR: the service's V8 CPU profile; --trace-gc FILE: its GC trace; --only nbo: next-best-offer alone.
 * --server dist (default): the service as it ships (node dist/src/server.js, as the Dockerfile and start:prod run it;
 * compiled by tsc first when a source is newer); tsx: as `npm start`; or a compiled server.js of another tree. Both
 * endpoints are measured in the same server either way; the node flags are the package start scripts' (--node-flags).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { readBundle } from '../src/bundle/read-bundle.js';
import { cacheKeys } from '../src/cache/keys.js';
import { openVectorCache } from '../src/cache/open-vector-cache.js';
import { publishBundle } from '../src/cache/publish.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { DEFAULT_OFFER_CHANNEL_CONSENT, parseConfig } from '../src/config.js';
import type { CustomerRecord, ModelBundle } from '../src/core/bundle.js';
import { loadedModelFromBundle } from '../src/cache/model-source.js';
import { decide } from '../src/core/offers/decide.js';
import type { DecisionContext, DecisionSubject } from '../src/core/offers/types.js';
import { normalised, TargetIndex } from '../src/serve/offer-affinity.js';
import type { Offer } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import type { OrderLine } from '../src/core/records.js';
import { benchOffers, benchStock, benchStore, dropPrefix, serveProcess, serviceCommand, storeFigures, storePhase, unifiedIds, withBenchCategories } from './bench-kit.js';
import { chooseLoader, type Load, type LoadResult, LOADERS } from './load-generator.js';

const spec = defineCli({
  name: 'npm run bench:offers --',
  summary: 'Load-tests next best offer beside similar items in the same run, and offer events stored durably.',
  flags: {
    data: { type: 'string', placeholder: 'FILE', description: 'train on this file first [default: ../shared/data/online_retail.csv.gz]' },
    bundle: { type: 'string', placeholder: 'DIR', description: 'use this trained bundle (models/<version>) instead of training' },
    offers: { type: 'int', default: 200, description: 'active offers' },
    customers: { type: 'int', default: 2000, description: 'customers sampled' },
    connections: { type: 'int', default: 50, description: 'concurrent connections' },
    seconds: { type: 'int', default: 10, description: 'seconds per load (after a 2 s warm-up)' },
    rounds: { type: 'int', default: 2, description: 'similar / next-best-offer pairs (0: events only)' },
    pglite: { type: 'boolean', description: 'history store = embedded PGlite (in the service process) instead of a fresh PostgreSQL database' },
    loader: { type: 'string', choices: LOADERS, placeholder: 'NAME', description: 'load generator (default: wrk when on PATH, else autocannon)' },
    profile: { type: 'string', placeholder: 'DIR', description: 'write a V8 CPU profile of the service process into DIR (node --cpu-prof; same as --cpu-prof)' },
    'cpu-prof': { type: 'string', placeholder: 'DIR', description: "write the service's V8 CPU profile into DIR (node --cpu-prof) when it stops" },
    'trace-gc': { type: 'string', placeholder: 'FILE', description: "run the service with --trace-gc, its stdout (GC lines and the request log) into FILE" },
    server: { type: 'string', default: 'dist', placeholder: 'FORM', description: "how the service runs: dist (node dist/src/server.js as the Dockerfile and start:prod run it; compiled first when stale), tsx (as npm start), or a compiled server.js" },
    'node-flags': { type: 'string', placeholder: 'FLAGS', description: "node flags for the service process instead of those of the package's start scripts (space-separated; '' for none)" },
    only: { type: 'string', choices: ['all', 'nbo', 'similar'], default: 'all', description: 'nbo: next-best-offer rounds only (no similar items, no events; for profiles); similar: similar items only' },
    json: { type: 'boolean', description: 'one JSON document on stdout' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress lines on stderr' },
  },
  epilog: 'Exit codes: 0 ok, 1 failure, 2 bad usage.\nExample: npm run bench:offers -- --seconds 10 --rounds 2',
});

const KEY = 'bench-key-0001';
const HEADERS = { 'x-api-key': KEY, 'content-type': 'application/json' };
const DAY = 86_400_000;
const here = dirname(fileURLToPath(import.meta.url));

/**
 * The decision core's own cost on these offers, in this process: `decide` over customers of the bundle
 * (their segment and affinity as the service builds them), no contacts, no response counts yet.
 */
function timeDecide(bundle: ModelBundle, offers: Offer[], customers: CustomerRecord[], now: number): { holdout: number; noHoldout: number } {
  const model = loadedModelFromBundle(bundle);
  const index = new TargetIndex(model, offers);
  const stats = { cell: () => ({ accepted: 0, shown: 0 }), overall: () => ({ accepted: 0, shown: 0 }) };
  const run = (holdoutShare: number) => {
    const ctx: DecisionContext = {
      channel: 'web', store: null, now, limit: 3, inStock: () => true, contacts: () => undefined, acceptances: () => 0,
      channelConsent: DEFAULT_OFFER_CHANNEL_CONSENT, holdoutShare, random: Math.random,
    };
    const subjects: DecisionSubject[] = customers.map((rec) => ({
      customerId: rec.customerId, personalised: true, consent: { personalisation: true }, segment: rec.segment, orders: 2, spend: 40, daysSinceLastPurchase: 30,
      affinity: index.affinityOf({ vector: rec.vector ? normalised(rec.vector, rec.vector.length) : null, items: rec.items, weights: rec.counts }),
    }));
    for (let i = 0; i < 10; i++) decide(offers, subjects[i % subjects.length], ctx, stats);
    const n = 100;
    const t = performance.now();
    for (let i = 0; i < n; i++) decide(offers, subjects[i % subjects.length], ctx, stats);
    return ((performance.now() - t) * 1000) / n;
  };
  return { holdout: run(0.05), noHoldout: run(0) };
}

/** The service's own figures from /metrics (prom-client's default metrics): GC seconds by kind, event-loop delay. */
interface ServiceFigures {
  gcS: Record<string, number>;
  lagP99Ms: number;
  lagMaxMs: number;
}
async function serviceFigures(url: string): Promise<ServiceFigures> {
  const gcS: Record<string, number> = {};
  let lagP99Ms = NaN;
  let lagMaxMs = NaN;
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    for (const line of text.split('\n')) {
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith('nodejs_gc_duration_seconds_sum')) gcS[/kind="(\w+)"/.exec(line)?.[1] ?? '?'] = v;
      else if (line.startsWith('nodejs_eventloop_lag_p99_seconds ')) lagP99Ms = v * 1000;
      else if (line.startsWith('nodejs_eventloop_lag_max_seconds ')) lagMaxMs = v * 1000;
    }
  } catch {
    // figures unknown
  }
  return { gcS, lagP99Ms, lagMaxMs };
}

/** GC ms per s of wall time by kind between two readings, and the event-loop delay of the second (prom-client resets it per reading). */
function phaseFigures(a: ServiceFigures, b: ServiceFigures, wallS: number): { gcMsPerS: Record<string, number>; loopLagP99Ms: number; loopLagMaxMs: number } {
  const gcMsPerS: Record<string, number> = {};
  for (const k of Object.keys(b.gcS)) gcMsPerS[k] = Math.round(((b.gcS[k] - (a.gcS[k] ?? 0)) * 1000) / wallS);
  return { gcMsPerS, loopLagP99Ms: b.lagP99Ms, loopLagMaxMs: b.lagMaxMs };
}

/** Every customer's first decision, 8 at a time: p50/p99 of the cold path. */
async function coldPass(url: string, ids: string[]): Promise<{ n: number; p50: number; p99: number; non200: number }> {
  const lat: number[] = [];
  let next = 0;
  let non200 = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < ids.length) {
        const id = ids[next++];
        const t = performance.now();
        const r = await fetch(`${url}/v1/customers/${id}/next-best-offer?channel=web&limit=3`, { headers: { 'x-api-key': KEY } });
        await r.arrayBuffer();
        if (r.status !== 200) non200++;
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { n: lat.length, p50: lat[lat.length >> 1], p99: lat[Math.floor(0.99 * (lat.length - 1))], non200 };
}

runCli(async () => {
  const { flags } = parseCli(spec);
  const log = (s: string) => {
    if (!flags.quiet) process.stderr.write(`${s}\n`);
  };
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const databaseUrl = flags.pglite ? null : process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const loader = chooseLoader(flags.loader);
  log(`load generator: ${loader.name}`);

  let bundle: ModelBundle;
  if (flags.bundle) {
    const dir = resolve(flags.bundle);
    bundle = await readBundle(dirname(dir), basename(dir));
  } else {
    const data = flags.data ?? join(here, '..', '..', 'shared', 'data', 'online_retail.csv.gz');
    const dir = mkdtempSync(join(tmpdir(), 'omnirec-bench-offers-'));
    try {
      log(`training on ${data} (npm run train)`);
      const t = spawnSync(join(here, '..', 'node_modules', '.bin', 'tsx'), [join(here, 'train.ts'), '--data', data, '--version', 'bench', '--model-dir', dir, '--quiet'], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      if (t.status !== 0) throw new Error(`training failed (exit ${t.status})`);
      bundle = await readBundle(dir, 'bench');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  withBenchCategories(bundle);
  const now = Date.now();
  // under the caller's CACHE_PREFIX when one is set (a builder's own keys)
  const prefix = `${process.env.CACHE_PREFIX ?? ''}omnirec-bench-offers-${process.pid}`;
  const db = await benchStore(databaseUrl, prefix);
  const store = db.store;
  const r = mulberry32(42);
  const withVector = bundle.customers.map((c, i) => (c.vector ? i : -1)).filter((i) => i >= 0);
  const sample = new Set<number>();
  while (sample.size < Math.min(flags.customers, withVector.length)) sample.add(withVector[Math.floor(r() * withVector.length)]);
  log(`registering ${sample.size} customers (one order each, consent) in ${databaseUrl ? 'a fresh PostgreSQL database' : 'a PGlite directory'}`);
  const lines: OrderLine[] = [];
  for (const c of sample) {
    const rec = bundle.customers[c];
    const n = Math.min(3, rec.items.length);
    for (let p = 0; p < n; p++) {
      lines.push({
        orderId: `bench-${rec.customerId}`,
        channel: 'web',
        storeId: null,
        time: Math.min(now - DAY, rec.lastTime[p] || now - 30 * DAY),
        identifiers: [{ kind: 'external', value: rec.customerId }],
        sku: bundle.items[rec.items[p]],
        title: null,
        category: null,
        quantity: 1 + (p % 2),
        unitPrice: 2.5 + p,
        cancels: null,
        lineNo: p + 1,
      });
    }
  }
  await store.importLines(lines);
  // consent in one statement: personalisation for all, push and email for every other customer
  const consent = [...sample].flatMap((c, k) => {
    const identifiers = [{ kind: 'external' as const, value: bundle.customers[c].customerId }];
    const purposes = k % 2 === 0 ? (['personalisation', 'push', 'email'] as const) : (['personalisation'] as const);
    return purposes.map((purpose) => ({ identifiers, purpose, granted: true, time: now - DAY, source: 'bench' }));
  });
  await store.importConsent(consent);
  const ids = await unifiedIds(store, bundle, sample);
  await store.setInventory(benchStock(bundle.items));
  const offers = benchOffers(flags.offers, Array.from(bundle.popular.global.items.subarray(0, 2000), (i) => bundle.items[i]), now);
  await store.putOffers(offers);
  await store.close();
  log(`stored ${offers.length} offers, inventory for S1 and S2`);

  const env = {
    REDIS_URL: redisUrl,
    CACHE_PREFIX: prefix,
    ...db.env,
    API_KEYS: `${KEY}:storefront+events`,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_MS: '2000',
  };
  const cache = await openVectorCache(parseConfig(env), { require: true });
  const pub = await publishBundle(cache, cacheKeys(prefix), bundle, { version: `bench-${Date.now()}` });
  log(`published ${pub.items} items, ${pub.customers} customers to ${redisUrl} (prefix ${prefix})`);

  const decideAlone = timeDecide(bundle, offers, [...sample].slice(0, 50).map((c) => bundle.customers[c]), now);
  log(`decide() alone, in this process, ${offers.length} offers, limit 3: ${decideAlone.holdout.toFixed(0)} µs per decision (holdout share 0.05), ${decideAlone.noHoldout.toFixed(0)} µs (holdout share 0)`);
  const pickItem = () => bundle.items[bundle.popular.global.items[Math.floor(r() * r() * Math.min(5000, bundle.popular.global.items.length))]];
  const reqs = (n: number, f: (i: number) => Load['requests'][number]) => Array.from({ length: n }, (_, i) => f(i));
  const similar = reqs(2000, () => ({ method: 'GET', path: `/v1/items/${encodeURIComponent(pickItem())}/similar?limit=10` }));
  const nbo = reqs(2000, () => {
    const c = r();
    const q = c < 0.5 ? 'channel=web' : c < 0.75 ? 'channel=app' : `channel=store&store=S${1 + Math.floor(r() * 2)}`;
    return { method: 'GET', path: `/v1/customers/${ids[Math.floor(r() * ids.length)]}/next-best-offer?${q}&limit=3` };
  });
  const types = ['impression', 'impression', 'impression', 'accepted', 'declined', 'ignored'];
  const events = reqs(100_000, (i) => ({
    method: 'POST',
    path: '/v1/events/offers',
    body: JSON.stringify({
      eventId: `bench-${process.pid}-${i}`,
      offerId: offers[Math.floor(r() * offers.length)].id,
      customerId: ids[Math.floor(r() * ids.length)],
      channel: pick3(r()),
      type: types[Math.floor(r() * types.length)],
    }),
  }));
  function pick3(x: number) {
    return x < 0.4 ? 'web' : x < 0.7 ? 'app' : 'store';
  }

  const load = (requests: Load['requests'], url: string, pid: number): Promise<LoadResult> =>
    loader.run({ url, pid, connections: flags.connections, seconds: flags.seconds, headers: HEADERS, requests });
  type Phase = LoadResult & ReturnType<typeof phaseFigures> & ReturnType<typeof storePhase>;
  let monitor: pg.Client | null = null;
  if (databaseUrl) {
    monitor = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await monitor.connect();
  }
  /** A load, with the service's GC and event-loop delay over it, and the PostgreSQL server's CPU and transactions. */
  const measured = async (requests: Load['requests'], url: string, pid: number, run = load): Promise<Phase> => {
    const a = await serviceFigures(url);
    const sa = await storeFigures(monitor);
    const t = performance.now();
    const x = await run(requests, url, pid);
    const wall = (performance.now() - t) / 1000;
    const b = await serviceFigures(url);
    // the backends flush their transaction counts within about a second
    await new Promise((r) => setTimeout(r, 1100));
    // requests over the whole load (its warm-up included), as the server's figures are
    return { ...x, ...phaseFigures(a, b, wall), ...storePhase(sa, await storeFigures(monitor), x.rps * wall) };
  };
  const fmt = (x: LoadResult) => `${x.rps.toFixed(0)} req/s p50 ${x.p50.toFixed(1)} ms p99 ${x.p99.toFixed(1)} ms ${x.cpuUsPerReq.toFixed(0)} CPU µs/req non-2xx ${x.non2xx + x.errors}`;
  const fmtService = (x: Phase) =>
    `service GC ${Object.entries(x.gcMsPerS)
      .map(([k, v]) => `${k} ${v}`)
      .join(' ')} ms/s, loop delay p99 ${x.loopLagP99Ms.toFixed(0)} ms max ${x.loopLagMaxMs.toFixed(0)} ms; PostgreSQL ${x.pgCpuUsPerReq.toFixed(0)} CPU µs/req, ${x.pgXactsPerReq.toFixed(3)} transactions/req`;
  const onlyNbo = flags.only === 'nbo';
  const onlySimilar = flags.only === 'similar';
  const result: {
    service?: string;
    loader: string;
    connections: number;
    seconds: number;
    offers: number;
    customers: number;
    cold?: Awaited<ReturnType<typeof coldPass>>;
    rounds: { similar?: Phase; nbo: Phase; pct?: number; loadavg: number[] }[];
    events?: Phase & { stored: number; loadavg: number[] };
    decideAloneUs?: { holdout: number; noHoldout: number };
    sample?: unknown;
  } = { loader: loader.name, connections: flags.connections, seconds: flags.seconds, offers: offers.length, customers: ids.length, rounds: [], decideAloneUs: decideAlone };
  const profileDir = flags['cpu-prof'] ?? flags.profile;
  const service = serviceCommand(flags.server);
  const shipped = flags['node-flags'] === undefined ? service.nodeFlags : flags['node-flags'].split(/\s+/).filter(Boolean);
  const nodeArgs = [...shipped, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`] : []), ...(flags['trace-gc'] ? ['--trace-gc'] : [])];
  result.service = `${service.label}${shipped.length ? `, node ${shipped.join(' ')}` : ''}`;
  log(`service: ${result.service}`);
  const svc = await serveProcess('service', service.entry, env, '/readyz', nodeArgs, flags['trace-gc'] ? resolve(flags['trace-gc']) : undefined);
  try {
    log(`service pid ${svc.pid} at ${svc.url}`);
    const first = await fetch(`${svc.url}/v1/customers/${ids[0]}/next-best-offer?channel=web&limit=3`, { headers: { 'x-api-key': KEY } });
    result.sample = await first.json();
    log(`sample decision: ${JSON.stringify(result.sample).slice(0, 400)}`);
    if (flags.rounds > 0) result.cold = await coldPass(svc.url, ids);
    if (result.cold) log(`cold pass over ${result.cold.n} customers (8 concurrent): p50 ${result.cold.p50.toFixed(1)} ms, p99 ${result.cold.p99.toFixed(1)} ms, non-200 ${result.cold.non200}`);
    for (let round = 1; round <= flags.rounds; round++) {
      log(`round ${round}: ${onlyNbo ? '' : 'similar, then '}next-best-offer (${flags.connections} connections, ${flags.seconds} s each)`);
      const s = onlyNbo ? undefined : await measured(similar, svc.url, svc.pid);
      if (s) log(`  similar          ${fmt(s)}; ${fmtService(s)}`);
      if (onlySimilar && s) {
        result.rounds.push({ similar: s, nbo: s, loadavg: loadavg() });
        continue;
      }
      const o = await measured(nbo, svc.url, svc.pid);
      log(`  next-best-offer  ${fmt(o)}${s ? `  (${((100 * o.rps) / s.rps).toFixed(0)}% of similar)` : ''}; ${fmtService(o)}`);
      result.rounds.push({ similar: s, nbo: o, pct: s ? (100 * o.rps) / s.rps : undefined, loadavg: loadavg() });
    }
    if (!onlyNbo && !onlySimilar) {
      log(`offer events: POST /v1/events/offers, unique ids (${flags.connections} connections, ${flags.seconds} s)`);
      // autocannon reads the requests from a file: wrk's script cannot hold 100,000 unique bodies (Lua's constant limit)
      const e = await measured(events, svc.url, svc.pid, (requests, url, pid) =>
        chooseLoader('autocannon').run({ url, pid, connections: flags.connections, seconds: flags.seconds, headers: HEADERS, requests }),
      );
      let stored = -1;
      if (databaseUrl) {
        const c = new pg.Client({ connectionString: db.env.DATABASE_URL });
        await c.connect();
        try {
          stored = Number((await c.query('SELECT count(*)::int AS n FROM offer_events')).rows[0].n);
        } finally {
          await c.end();
        }
      }
      result.events = { ...e, stored, loadavg: loadavg() };
      log(`  events           ${fmt(e)}; rows in offer_events after warm-up + run: ${stored}; ${fmtService(e)}`);
    }
  } finally {
    await monitor?.end().catch(() => undefined);
    await svc.close();
    await cache.close();
    await dropPrefix(redisUrl, prefix);
    await db.drop();
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const out: string[] = [];
  out.push(`service: ${result.service}`);
  out.push(`load generator: ${loader.name}, ${flags.connections} connections, ${flags.seconds} s per load; ${offers.length} active offers, ${ids.length} customers`);
  out.push(`decide() alone (bench process, ${offers.length} offers, limit 3): ${decideAlone.holdout.toFixed(0)} µs per decision with holdout share 0.05, ${decideAlone.noHoldout.toFixed(0)} µs without`);
  if (result.cold) out.push(`cold first decisions (8 concurrent): p50 ${result.cold.p50.toFixed(1)} ms, p99 ${result.cold.p99.toFixed(1)} ms`);
  for (const [i, x] of result.rounds.entries()) {
    const load1 = `round ${i + 1} (load ${x.loadavg.map((l) => l.toFixed(2)).join(' ')}): `;
    if (x.similar) out.push(`${load1}similar ${fmt(x.similar)}; ${fmtService(x.similar)}`);
    out.push(`${x.similar ? ' '.repeat(load1.length) : load1}next-best-offer ${fmt(x.nbo)}${x.pct !== undefined ? ` = ${x.pct.toFixed(0)}% of similar` : ''}; ${fmtService(x.nbo)}`);
  }
  const ev = result.events;
  if (ev) out.push(`offer events (load ${ev.loadavg.map((l) => l.toFixed(2)).join(' ')}): ${fmt(ev)}; stored ${ev.stored} rows (warm-up included); ${fmtService(ev)}`);
  process.stdout.write(out.join('\n') + '\n');
});
