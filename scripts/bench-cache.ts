/**
 * Cache benchmark: publish a generated bundle (items × k factors, customers with histories) into Redis
 * (and a Redis Cluster with --cluster-nodes) and/or the embedded cache, load the item side back, and time
 * customer lookups (one GET each, LRU off).
 *
 *   npx tsx scripts/bench-cache.ts --items 10000 --customers 100000 --k 64 [--backend redis|dir|both]
 *     [--cluster-nodes host:port,host:port,...]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheModelSource } from '../src/cache/cache-model-source.js';
import { cacheKeys } from '../src/cache/keys.js';
import { loadModel } from '../src/cache/load-model.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { publishBundle } from '../src/cache/publish.js';
import { RedisCache, type RedisTarget } from '../src/cache/redis-cache.js';
import type { VectorCache } from '../src/cache/vector-cache.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { config, parseConfig } from '../src/config.js';
import { progressBar } from '../src/cli/progress.js';
import type { CustomerRecord, ModelBundle } from '../src/core/bundle.js';

const spec = defineCli({
  name: 'npx tsx scripts/bench-cache.ts',
  summary: 'Times publish, item-side load and per-customer lookups of the vector cache on generated data.',
  flags: {
    items: { type: 'int', default: 10_000, description: 'catalogue size' },
    customers: { type: 'int', default: 100_000, description: 'customer records' },
    k: { type: 'int', default: 64, description: 'factors' },
    history: { type: 'int', default: 20, description: 'items per customer' },
    lookups: { type: 'int', default: 20_000, description: 'customer lookups to time' },
    backend: { type: 'string', default: 'both', choices: ['redis', 'dir', 'both'], description: 'cache backend(s)' },
    'redis-url': { type: 'string', description: 'Redis to use [default: REDIS_URL, else redis://127.0.0.1:6379]' },
    'cluster-nodes': { type: 'string', placeholder: 'NODES', description: 'with redis: also a Redis Cluster (REDIS_CLUSTER_NODES form), right after' },
    quiet: { type: 'boolean', description: 'no progress bar' },
  },
});

function generate(ni: number, nc: number, k: number, h: number): ModelBundle {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const topK = (per: number) => ({
    indptr: Int32Array.from({ length: ni + 1 }, (_, i) => i * per),
    indices: Int32Array.from({ length: ni * per }, () => Math.floor(rand() * ni)),
    scores: Float32Array.from({ length: ni * per }, rand),
  });
  const ranked = (n: number) => ({ items: Int32Array.from({ length: n }, (_, i) => i), scores: Float32Array.from({ length: n }, (_, i) => n - i) });
  const customers: CustomerRecord[] = [];
  for (let c = 0; c < nc; c++) {
    customers.push({
      customerId: `C${c}`,
      vector: Float32Array.from({ length: k }, rand),
      segment: 'repeat',
      items: Int32Array.from({ length: h }, () => Math.floor(rand() * ni)),
      counts: Float32Array.from({ length: h }, () => 1 + Math.floor(rand() * 4)),
      lastTime: Float64Array.from({ length: h }, () => 1.7e12 + rand() * 3e10),
      intervalDays: Float32Array.from({ length: h }, () => rand() * 60),
    });
  }
  return {
    manifest: {
      version: 'bench',
      createdAt: new Date().toISOString(),
      data: { source: 'generated', from: null, to: null, customers: nc, items: ni, lines: nc * h, orders: nc },
      params: {},
      metrics: {},
      timings: {},
      files: {},
    },
    items: Array.from({ length: ni }, (_, i) => `SKU${i}`),
    itemCategories: Array.from({ length: ni }, (_, i) => `cat${i % 50}`),
    als: { k, reg: 1, alpha: 1, itemFactors: Float32Array.from({ length: ni * k }, rand) },
    neighbours: topK(50),
    fbt: topK(20),
    popular: { global: ranked(500), trending: ranked(500), byStore: { S1: ranked(500) }, bySegment: { vip: ranked(500) } },
    blend: {},
    customers,
  };
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function bench(name: string, cache: VectorCache, bundle: ModelBundle, lookups: number, quiet: boolean): Promise<void> {
  const keys = cacheKeys(`omnirec_bench_${process.pid}`);
  try {
    const bar = progressBar({ label: `publish (${name})`, total: bundle.customers.length, quiet });
    const r = await publishBundle(cache, keys, bundle, { progress: (d) => bar.update(d) });
    bar.stop();
    console.log(
      `${name}: publish ${r.customers.toLocaleString('en-US')} customers + ${r.items.toLocaleString('en-US')} items ` +
        `(${(r.bytes / 1048576).toFixed(1)} MB) in ${r.seconds.toFixed(2)} s = ${Math.round(r.customers / r.seconds).toLocaleString('en-US')} customers/s`,
    );
    let t = performance.now();
    const m = await loadModel(cache, keys, 'bench');
    console.log(`${name}: item-side load (one MGET + decode + checksums) ${(performance.now() - t).toFixed(0)} ms`);
    const src = new CacheModelSource(cache, keys, { lruSize: 0, pointerPollMs: 0 });
    const lat: number[] = [];
    const n = bundle.customers.length;
    for (let i = 0; i < lookups; i++) {
      const t0 = performance.now();
      await src.customer(`C${(i * 7919) % n}`, m);
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    console.log(`${name}: customer lookup, sequential: p50 ${pct(lat, 50).toFixed(3)} ms, p99 ${pct(lat, 99).toFixed(3)} ms`);
    t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < lookups) await src.customer(`C${(next++ * 7919) % n}`, m);
      }),
    );
    const s = (performance.now() - t) / 1000;
    console.log(`${name}: customer lookup, 50 concurrent: ${Math.round(lookups / s).toLocaleString('en-US')} lookups/s`);
    const st = src.stats();
    if (st.errors || st.misses) console.log(`${name}: WARNING ${st.errors} errors, ${st.misses} misses`);
  } finally {
    for (const p of keys.versionPatterns('bench')) for await (const b of cache.scan(p)) await cache.delete(b);
    await cache.delete([keys.current, keys.versions]);
  }
}

runCli(async () => {
  const { flags } = parseCli(spec);
  let t = performance.now();
  const bundle = generate(flags.items, flags.customers, flags.k, flags.history);
  console.log(`generated ${flags.items} items × k ${flags.k}, ${flags.customers} customers × ${flags.history} items in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  if (flags.backend !== 'dir') {
    const targets: [string, RedisTarget][] = [['redis', flags['redis-url'] ?? config().REDIS_URL ?? 'redis://127.0.0.1:6379']];
    if (flags['cluster-nodes']) targets.push(['redis cluster', parseConfig({ REDIS_CLUSTER_NODES: flags['cluster-nodes'] }).REDIS_CLUSTER_NODES!]);
    for (const [name, target] of targets) {
      const cache = await RedisCache.open(target, { require: true });
      try {
        await bench(name, cache, bundle, flags.lookups, flags.quiet);
      } finally {
        await cache.close();
      }
    }
  }
  if (flags.backend !== 'redis') {
    const dir = await mkdtemp(join(tmpdir(), 'bench-cache-'));
    const cache = new MemoryCache(dir);
    try {
      await bench('embedded dir', cache, bundle, flags.lookups, flags.quiet);
    } finally {
      await cache.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
}, 'bench-cache');
