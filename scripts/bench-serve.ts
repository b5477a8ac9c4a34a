/**
 * npm run bench:serve -- [--data FILE | --bundle DIR | --synthetic N[,N...]] [--connections 50] [--seconds 10]
 *
 * Builds or loads a bundle (trains on --data through `npm run train`, reads --bundle, or generates a
 * synthetic one of N items), publishes it to Redis (REDIS_URL or redis://127.0.0.1:6379) under a
 * throwaway prefix, and starts the service as production does: its own process (src/server.ts, as
 * `npm start`), configured by environment (REDIS_URL, CACHE_PREFIX, DATABASE_URL, API_KEYS, PORT,
 * LOG_LEVEL=info: real auth, one log line per request written to a discarded stdout), its history
 * store a fresh PostgreSQL database from DATABASE_URL or the local server, dropped after, or a PGlite
 * directory with --pglite, holding the sampled customers and their consent. Loads it with wrk (one
 * thread) when it is on PATH, else autocannon from a child process (--loader picks one; see
 * load-generator.ts), alongside a bare Express handler returning a fixed JSON body, also in its own
 * process (scripts/bare-express.ts), measured right before each endpoint so both see the same
 * machine load. CPU µs/req is the CPU time of the process under load (service or bare Express).
 * Prints the load generator used, then req/s and p50/p99 per endpoint and as % of bare Express, and
 * the service's garbage collection during each measured run (prom-client's nodejs_gc_duration_seconds
 * from its /metrics, read right before and after): minor and major collections per 1,000 requests and
 * GC ms per second.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBundle } from '../src/bundle/read-bundle.js';
import { cacheKeys } from '../src/cache/keys.js';
import { openVectorCache } from '../src/cache/open-vector-cache.js';
import { publishBundle } from '../src/cache/publish.js';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { parseConfig } from '../src/config.js';
import type { ModelBundle } from '../src/core/bundle.js';
import { autocannonWorker, chooseLoader, cpuUsOfTree, type GcFigures, gcBetween, type Load, type LoadResult, LOADERS } from './load-generator.js';
import { benchStore, dropPrefix, rng, type Served, serveProcess, syntheticBundle } from './bench-kit.js';

const spec = defineCli({
  name: 'npm run bench:serve --',
  summary: 'Load-tests the recommendation service against bare Express (wrk or autocannon, loopback).',
  flags: {
    data: { type: 'string', placeholder: 'FILE', description: 'train on this file first (npm run train -- --data FILE)' },
    bundle: { type: 'string', placeholder: 'DIR', description: 'use this trained bundle (models/<version>)' },
    synthetic: { type: 'string', placeholder: 'N[,N]', description: 'synthetic bundles with N items each (e.g. 10000,100000)' },
    connections: { type: 'string', default: '50', placeholder: 'N[,N]', description: 'concurrent connections; several (e.g. 1,10,25,50): every endpoint at each, bare Express beside it (a p99-vs-connections curve)' },
    'service-stdout': { type: 'string', placeholder: 'FILE', description: "write the service's stdout (its request log; --trace-gc lines with --node-flags) to FILE instead of discarding it" },
    'node-flags': { type: 'string', placeholder: 'FLAGS', description: 'extra Node/V8 flags for both servers, service and bare Express (e.g. "--max-semi-space-size=32"), to compare a setting side by side' },
    'cpu-prof': { type: 'string', placeholder: 'DIR', description: "write V8 CPU profiles of the service's process(es) into DIR (node --cpu-prof) when it stops" },
    workers: { type: 'int', default: 1, description: 'processes serving: the service with WEB_CONCURRENCY=N, bare Express with as many cluster workers (needs PostgreSQL: not with --pglite)' },
    seconds: { type: 'int', default: 10, description: 'seconds per endpoint (after a 2 s warm-up)' },
    customers: { type: 'int', default: 2000, description: 'customers sampled for personal recommendations' },
    pglite: { type: 'boolean', description: 'history store = embedded PGlite (in the service process, on a temporary directory) instead of a fresh PostgreSQL database' },
    json: { type: 'boolean', description: 'one JSON document on stdout' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress lines on stderr' },
    endpoints: { type: 'string', placeholder: 'LIST', description: 'only these endpoints (similar,personal,basket,session; default all)' },
    loader: { type: 'string', choices: LOADERS, placeholder: 'NAME', description: 'load generator (default: wrk when on PATH, else autocannon)' },
    worker: { type: 'string', placeholder: 'FILE', description: '(internal) run one autocannon load from this JSON spec file' },
  },
  epilog: 'Exit codes: 0 ok, 1 failure, 2 bad usage.\nExample: npm run bench:serve -- --synthetic 10000,100000 --seconds 10',
});

const KEY = 'bench-key-0001';
const HEADERS = { 'x-api-key': KEY, 'content-type': 'application/json' };

const ENDPOINTS = ['similar', 'personal', 'basket', 'session'];
const here = dirname(fileURLToPath(import.meta.url));

/**
 * Waits (at most 60 s) until a process tree is idle: a cluster's workers have all started (the
 * first one ready answers /readyz while the others still load the model).
 */
async function settled(pid: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = cpuUsOfTree(pid);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuUsOfTree(pid);
    if (now - last < 25_000) return; // under 5 % of a core over 0.5 s
    last = now;
  }
}

// ---------- one bench round ----------
interface Round {
  bundle: string;
  items: number;
  k: number | null;
  endpoints: Record<string, LoadResult & { pctOfBare: number; bare: LoadResult; connections: number; gc: GcFigures | null }>;
  /** Latency of first requests per customer (nothing cached in the instance yet). */
  personalCold: { n: number; p50: number; p99: number } | null;
}

async function benchBundle(
  bundle: ModelBundle,
  label: string,
  o: {
    connections: number[];
    seconds: number;
    customers: number;
    workers: number;
    cpuProf: string | undefined;
    nodeFlags: string[];
    serviceStdout: string | undefined;
    redisUrl: string;
    databaseUrl: string | null;
    bare: Served;
    runLoad: (load: Load) => Promise<LoadResult>;
    only: ReadonlySet<string> | null;
    log: (s: string) => void;
  },
): Promise<Round> {
  const prefix = `omnirec-bench-${process.pid}`;
  const version = `bench-${Date.now()}`;
  const db = await benchStore(o.databaseUrl, prefix);
  const store = db.store;
  // the sampled customers exist in the history store with consent; the bundle's records carry their unified ids
  const r = rng(42);
  const sample = new Set<number>();
  const want = Math.min(o.customers, bundle.customers.filter((c) => c.vector).length);
  while (sample.size < want) {
    const c = Math.floor(r() * bundle.customers.length);
    if (bundle.customers[c].vector) sample.add(c);
  }
  o.log(`  ${label}: registering ${sample.size} customers (with consent) in ${o.databaseUrl ? 'a fresh PostgreSQL database' : 'a PGlite directory'}`);
  const ids: string[] = [];
  for (const c of sample) {
    const rec = bundle.customers[c];
    const id = await store.resolveIdentity([{ kind: 'external', value: rec.customerId }]);
    await store.setConsent(id, 'personalisation', true, 'bench');
    bundle.customers[c] = { ...rec, customerId: id };
    ids.push(id);
  }
  // the store's connection closes here: the service opens its own
  await store.close();
  o.log(`  ${label}: publishing to ${o.redisUrl} (prefix ${prefix})`);
  const env = {
    REDIS_URL: o.redisUrl,
    CACHE_PREFIX: prefix,
    ...db.env,
    API_KEYS: `${KEY}:storefront`,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_MS: '2000',
    WEB_CONCURRENCY: String(o.workers),
  };
  const cache = await openVectorCache(parseConfig(env), { require: true });
  const pub = await publishBundle(cache, cacheKeys(prefix), bundle, { version });
  o.log(`  ${label}: published ${pub.items} items, ${pub.customers} customers, ${(pub.bytes / 1048576).toFixed(1)} MB in ${pub.seconds.toFixed(1)} s`);
  const n = bundle.items.length;
  const pick = () => bundle.items[Math.floor(r() * r() * n)];
  const reqs = (f: () => Load['requests'][number]) => Array.from({ length: 2000 }, f);
  const loads: Record<string, Load['requests']> = {
    similar: reqs(() => ({ method: 'GET', path: `/v1/items/${encodeURIComponent(pick())}/similar?limit=10` })),
    personal: reqs(() => ({ method: 'GET', path: `/v1/customers/${ids[Math.floor(r() * ids.length)]}/recommendations?limit=10` })),
    basket: reqs(() => ({
      method: 'POST',
      path: '/v1/baskets/recommendations',
      body: JSON.stringify({ items: Array.from({ length: 1 + Math.floor(r() * 3) }, pick), limit: 10 }),
    })),
    session: reqs(() => ({
      method: 'POST',
      path: '/v1/sessions/recommendations',
      body: JSON.stringify({ items: Array.from({ length: 1 + Math.floor(r() * 4) }, pick), limit: 10 }),
    })),
  };
  const endpoints: Round['endpoints'] = {};
  let cold: Round['personalCold'] = null;
  let started: Served | null = null;
  try {
    // the service in its own process, as `npm start` runs it; its log lines go to a discarded stdout
    const svc = (started = await serveProcess('service', join(here, '..', 'src', 'server.ts'), env, '/readyz', [...o.nodeFlags, ...(o.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProf] : [])], o.serviceStdout));
    if (o.workers > 1) await settled(svc.pid);
    o.log(`  ${label}: service pid ${svc.pid} at ${svc.url}${o.workers > 1 ? ` (${o.workers} workers)` : ''}`);
    for (const [name, requests] of Object.entries(loads)) {
      if (o.only && !o.only.has(name)) continue;
      // one request first: which source answers, and how long a cold request takes
      const first = requests[0];
      const t0 = performance.now();
      const sample = await fetch(svc.url + first.path, { method: first.method, body: first.body, headers: HEADERS });
      const sb = (await sample.json()) as { model?: { source: string }; fallback?: boolean; fallbackReason?: string; items?: unknown[] };
      o.log(`  ${label}: ${name} sample: ${sample.status} source=${sb.model?.source} fallback=${sb.fallback}${sb.fallbackReason ? ` (${sb.fallbackReason})` : ''} items=${sb.items?.length} in ${(performance.now() - t0).toFixed(1)} ms`);
      if (name === 'personal') {
        // every sampled customer once (8 at a time): the cold path (merge/consent queries, one Redis
        // GET); the load below then measures the warm path (per-instance consent cache and LRU)
        const lat: number[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next < ids.length) {
              const id = ids[next++];
              const t = performance.now();
              const r = await fetch(`${svc.url}/v1/customers/${id}/recommendations?limit=10`, { headers: { 'x-api-key': KEY } });
              await r.arrayBuffer();
              lat.push(performance.now() - t);
            }
          }),
        );
        lat.sort((a, b) => a - b);
        cold = { n: lat.length, p50: lat[lat.length >> 1], p99: lat[Math.floor(0.99 * (lat.length - 1))] };
        o.log(`  ${label}: personal cold pass over ${lat.length} customers (8 concurrent): p50 ${cold.p50.toFixed(1)} ms, p99 ${cold.p99.toFixed(1)} ms`);
      }
      for (const connections of o.connections) {
        // bare Express right before each endpoint, so that both see the same machine load
        o.log(`  ${label}: loading bare Express, then ${name} (${connections} connections, ${o.seconds} s each)`);
        const load = { connections, seconds: o.seconds, headers: HEADERS };
        const bare = await o.runLoad({ ...load, url: o.bare.url, pid: o.bare.pid, requests: [{ method: 'GET', path: '/bare' }] });
        // the service's GC counters right before the measured run (after the warm-up) and right after it
        let gcBefore: string | null = null;
        const metrics = () => fetch(`${svc.url}/metrics`).then((r) => r.text(), () => null);
        const res = await o.runLoad({ ...load, url: svc.url, pid: svc.pid, requests, beforeMeasured: async () => void (gcBefore = await metrics()) });
        const gcAfter = o.workers === 1 ? await metrics() : null;
        const gc = gcBefore !== null && gcAfter !== null ? gcBetween(gcBefore, gcAfter, res.rps * o.seconds, o.seconds) : null;
        const key = o.connections.length > 1 ? `${name}@${connections}` : name;
        endpoints[key] = { ...res, pctOfBare: (100 * res.rps) / bare.rps, bare, connections, gc };
        o.log(
          `    bare ${bare.rps.toFixed(0)} req/s p99 ${bare.p99.toFixed(1)} ms ${bare.cpuUsPerReq.toFixed(0)} CPU µs/req; ` +
            `${name} ${res.rps.toFixed(0)} req/s p50 ${res.p50.toFixed(1)} ms p99 ${res.p99.toFixed(1)} ms ${res.cpuUsPerReq.toFixed(0)} CPU µs/req (${endpoints[key].pctOfBare.toFixed(0)}%)` +
            (gc ? `; GC ${gc.msPerS.toFixed(1)} ms/s, ${gc.minorPer1k.toFixed(2)} minor + ${gc.majorPer1k.toFixed(3)} major per 1k requests` : ''),
        );
      }
    }
  } finally {
    await started?.close();
    await cache.close();
    await dropPrefix(o.redisUrl, prefix);
    await db.drop();
  }
  return { bundle: label, items: n, k: bundle.als?.k ?? null, endpoints, personalCold: cold };
}

runCli(async () => {
  const { flags } = parseCli(spec);
  if (flags.worker) return autocannonWorker(flags.worker);
  const sources = [flags.data, flags.bundle, flags.synthetic].filter(Boolean).length;
  if (sources > 1) throw new UsageError('give one of --data, --bundle, --synthetic');
  const log = (s: string) => {
    if (!flags.quiet) process.stderr.write(`${s}\n`);
  };
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const databaseUrl = flags.pglite ? null : process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const only = flags.endpoints ? new Set(flags.endpoints.split(',').map((s) => s.trim())) : null;
  const bad = [...(only ?? [])].filter((e) => !ENDPOINTS.includes(e));
  if (bad.length) throw new UsageError(`--endpoints: unknown ${bad.join(', ')} (one or more of ${ENDPOINTS.join(', ')})`);
  const loader = chooseLoader(flags.loader);
  log(`load generator: ${loader.name}`);
  if (flags.workers < 1) throw new UsageError('--workers: at least 1');
  if (flags.workers > 1 && flags.pglite) throw new UsageError('--workers: more than one process needs PostgreSQL (PGlite is one process); drop --pglite');
  const connections = flags.connections.split(',').map((c) => Number(c.trim()));
  if (connections.some((c) => !Number.isInteger(c) || c < 1)) throw new UsageError(`--connections: "${flags.connections}" is not a list of positive integers`);
  const nodeFlags = (flags['node-flags'] ?? '').split(/\s+/).filter(Boolean);
  const o = { connections, nodeFlags, serviceStdout: flags['service-stdout'], seconds: flags.seconds, customers: flags.customers, workers: flags.workers, cpuProf: flags['cpu-prof'], redisUrl, databaseUrl, runLoad: loader.run, only, log };

  const bundles: { label: string; load: () => Promise<ModelBundle> }[] = [];
  if (flags.bundle) {
    const dir = resolve(flags.bundle);
    bundles.push({ label: basename(dir), load: () => readBundle(dirname(dir), basename(dir)) });
  } else if (flags.synthetic) {
    for (const s of flags.synthetic.split(',')) {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 10) throw new UsageError(`--synthetic: "${s}" is not a number of items`);
      bundles.push({ label: `synthetic ${n} items`, load: async () => syntheticBundle(n, Math.max(flags.customers, 5000)) });
    }
  } else {
    const data = flags.data ?? join(here, '..', '..', 'shared', 'data', 'online_retail.csv.gz');
    bundles.push({
      label: basename(data),
      load: async () => {
        const dir = mkdtempSync(join(tmpdir(), 'omnirec-bench-'));
        try {
          log(`training on ${data} (npm run train)`);
          const t = spawnSync(join(here, '..', 'node_modules', '.bin', 'tsx'), [join(here, 'train.ts'), '--data', data, '--version', 'bench', '--model-dir', dir, '--quiet'], {
            stdio: ['ignore', 'ignore', 'inherit'],
          });
          if (t.status !== 0) throw new Error(`training failed (exit ${t.status})`);
          return await readBundle(dir, 'bench');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    });
  }

  const bare = await serveProcess('bare Express', join(here, 'bare-express.ts'), { WORKERS: String(flags.workers) }, '/bare', nodeFlags);
  if (flags.workers > 1) await settled(bare.pid);
  log(`bare Express: pid ${bare.pid} at ${bare.url}${flags.workers > 1 ? ` (${flags.workers} cluster workers)` : ''}`);
  const rounds: Round[] = [];
  try {
    for (const b of bundles) {
      const bundle = await b.load();
      rounds.push(await benchBundle(bundle, b.label, { ...o, bare }));
    }
  } finally {
    await bare.close();
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify({ loader: loader.name, connections: o.connections, seconds: o.seconds, workers: o.workers, rounds }, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    `load generator: ${loader.name}${loader.name === 'wrk' ? ' (1 thread)' : ' (child process)'}, ${o.connections.join(', ')} connections, ${o.seconds} s per endpoint${nodeFlags.length ? `; node flags (both servers): ${nodeFlags.join(' ')}` : ''}; ` +
      `${o.workers} process${o.workers > 1 ? `es (service WEB_CONCURRENCY=${o.workers}, bare Express ${o.workers} cluster workers; CPU µs/req summed over the workers)` : ' each (service and bare Express)'}\n`,
  );
  const rows = [['bundle', 'items', 'endpoint', 'req/s', 'bare req/s', '% of bare', 'p50 ms', 'p99 ms', 'bare p99', 'CPU µs/req', 'bare CPU µs', 'non-2xx', 'GC ms/s', 'minor GC/1k', 'major GC/1k']];
  const ms = (x: number) => x.toFixed(1);
  for (const r of rounds) {
    for (const [name, e] of Object.entries(r.endpoints)) {
      rows.push([
        r.bundle,
        String(r.items),
        name,
        e.rps.toFixed(0),
        e.bare.rps.toFixed(0),
        e.pctOfBare.toFixed(0),
        ms(e.p50),
        ms(e.p99),
        ms(e.bare.p99),
        e.cpuUsPerReq.toFixed(0),
        e.bare.cpuUsPerReq.toFixed(0),
        String(e.non2xx + e.errors),
        e.gc ? e.gc.msPerS.toFixed(1) : '',
        e.gc ? e.gc.minorPer1k.toFixed(2) : '',
        e.gc ? e.gc.majorPer1k.toFixed(3) : '',
      ]);
    }
  }
  for (const r of rounds) {
    if (r.personalCold) rows.push([r.bundle, String(r.items), `personal, cold (${r.personalCold.n} customers, 8 concurrent)`, '', '', '', ms(r.personalCold.p50), ms(r.personalCold.p99), '', '', '', '', '', '', '']);
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(w[i])).join('  ') + '\n');
});
