/**
 * The world bench:faults and bench:soak run in, and the realistic request mix they send.
 *
 * World: a private redis-server on a free port (started here, killed at the end; never the shared
 * one), a fresh PostgreSQL database (from DATABASE_URL or the local server; dropped at the end) that
 * the service reaches through a TCP proxy on loopback (test/helpers/tcp-proxy.ts) which the fault
 * bench switches to refuse or hang, a synthetic bundle whose customers exist in the store with an
 * email, consent and a few orders, published to the private Redis, and the service in its own process
 * (src/server.ts, as `npm start`).
 *
 * Mix (weights): similar 30, personal 20, basket 12, session 10, buy-again 10 (storefront lists), lookup 8
 * (associate), purchase events 10 (a new order id each). Customers are drawn uniformly from all of them,
 * more than the instance's record LRU holds, so personal lists read Redis too; items are skewed to the
 * popular ones.
 */
import { type Agent as HttpAgent, Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheKeys } from '../src/cache/keys.js';
import { publishBundle } from '../src/cache/publish.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import type { ModelBundle } from '../src/core/bundle.js';
import type { OrderLine } from '../src/core/records.js';
import type { SqlStore } from '../src/store/sql-store.js';
import { type RedisServer, startRedisServer } from '../test/helpers/redis-server.js';
import { type TcpProxy, startTcpProxy } from '../test/helpers/tcp-proxy.js';
import { benchStore, rng, type Served, serveProcess, syntheticBundle } from './bench-kit.js';

const here = dirname(fileURLToPath(import.meta.url));
export const KEY = 'bench-mix-key-0001';

export type Kind = 'similar' | 'personal' | 'basket' | 'session' | 'buy-again' | 'lookup' | 'event';
const WEIGHTS: [Kind, number][] = [
  ['similar', 30],
  ['personal', 20],
  ['basket', 12],
  ['session', 10],
  ['buy-again', 10],
  ['lookup', 8],
  ['event', 10],
];
/** Each kind's share of the mix (weights over their sum). */
export const MIX_SHARE: ReadonlyMap<Kind, number> = new Map(WEIGHTS.map(([k, w]) => [k, w / WEIGHTS.reduce((a, [, x]) => a + x, 0)]));
export const STOREFRONT: ReadonlySet<Kind> = new Set(['similar', 'personal', 'basket', 'session', 'buy-again']);

export interface MixWorld {
  service: Served;
  redis: RedisServer;
  proxy: TcpProxy;
  bundle: ModelBundle;
  customers: { id: string; email: string }[];
  /** Publishes the bundle again (after Redis restarted empty); returns the seconds it took. */
  republish(): Promise<number>;
  close(): Promise<void>;
}

/** VmRSS of a process in MiB (Linux). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export const load1 = () => loadavg()[0].toFixed(2);

export async function startMixWorld(o: {
  databaseUrl: string;
  items: number;
  customers: number;
  log: (s: string) => void;
  env?: Record<string, string>;
  /** The service's log lines (stdout) go here; discarded when unset. */
  serviceLog?: string;
  /** Extra node options for the service process (e.g. --cpu-prof). */
  nodeArgs?: string[];
}): Promise<MixWorld> {
  const prefix = `omnirec-mix-${process.pid}`;
  const redis = await startRedisServer();
  o.log(`private redis-server on port ${redis.port}`);
  const db = await benchStore(o.databaseUrl, `omnirec_mix_${process.pid}`);
  let proxy: TcpProxy | null = null;
  let service: Served | null = null;
  try {
    const bundle = syntheticBundle(o.items, o.customers);
    // every customer: an email, their first three items as three orders, consent
    const lines: OrderLine[] = [];
    bundle.customers.forEach((c, i) => {
      for (let j = 0; j < Math.min(3, c.items.length); j++) {
        lines.push({
          orderId: `H-${i}-${j}`,
          channel: 'web',
          storeId: null,
          time: c.lastTime[j],
          identifiers: [{ kind: 'email', value: `c${i}@bench.example` }],
          sku: bundle.items[c.items[j]],
          title: null,
          category: bundle.itemCategories[c.items[j]],
          quantity: 1,
          unitPrice: 2,
          cancels: null,
          lineNo: 1,
        });
      }
    });
    o.log(`importing ${lines.length} history lines of ${bundle.customers.length} customers`);
    for (let i = 0; i < lines.length; i += 6000) await db.store.importLines(lines.slice(i, i + 6000));
    await db.store.importConsent(bundle.customers.map((_, i) => ({ identifiers: [{ kind: 'email', value: `c${i}@bench.example` }], purpose: 'personalisation', granted: true, time: null, source: 'bench' })));
    // statistics for the planner, as after any import
    await (db.store as SqlStore).db.exec('ANALYZE');
    const rows = await (db.store as SqlStore).db.query<{ value: string; id: string }>(`SELECT value, customer_id::text AS id FROM customer_identifiers WHERE kind = 'email'`);
    const idOf = new Map(rows.rows.map((r) => [r.value, r.id]));
    const customers = bundle.customers.map((c, i) => {
      const email = `c${i}@bench.example`;
      const id = idOf.get(email)!;
      bundle.customers[i] = { ...c, customerId: id };
      return { id, email };
    });
    await db.store.close();

    const publish = async () => {
      const t0 = performance.now();
      const cache = await RedisCache.open(redis.url, { require: true });
      try {
        await publishBundle(cache, cacheKeys(prefix), bundle, { version: 'mix-1' });
      } finally {
        await cache.close();
      }
      return (performance.now() - t0) / 1000;
    };
    o.log(`published in ${(await publish()).toFixed(1)} s`);

    const direct = new URL(db.env.DATABASE_URL);
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaProxy = new URL(direct);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const env = {
      REDIS_URL: redis.url,
      CACHE_PREFIX: prefix,
      DATABASE_URL: viaProxy.toString(),
      API_KEYS: `${KEY}:storefront+associate+events`,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: '2000',
      ...o.env,
    };
    service = await serveProcess('service', join(here, '..', 'src', 'server.ts'), env, '/readyz', o.nodeArgs ?? [], o.serviceLog);
    o.log(`service pid ${service.pid} at ${service.url}; PostgreSQL through the proxy on port ${proxy.port}`);
    const p = proxy;
    const s = service;
    return {
      service: s,
      redis,
      proxy: p,
      bundle,
      customers,
      republish: publish,
      async close() {
        await s.close();
        await p.close();
        await redis.stop();
        await db.drop();
      },
    };
  } catch (e) {
    await service?.close();
    await proxy?.close();
    await redis.stop();
    await db.drop();
    throw e;
  }
}

export interface MixRequest {
  kind: Kind;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

/** The request mix, deterministic by seed. */
export function mixRequests(world: Pick<MixWorld, 'bundle' | 'customers'>, seed: number): () => MixRequest {
  const r = rng(seed);
  const total = WEIGHTS.reduce((a, [, w]) => a + w, 0);
  const skus = world.bundle.items;
  const item = () => skus[Math.floor(r() * r() * skus.length)];
  const customer = () => world.customers[Math.floor(r() * world.customers.length)];
  const items = (max: number) => Array.from({ length: 1 + Math.floor(r() * max) }, item);
  let order = 0;
  return () => {
    let x = r() * total;
    const kind = WEIGHTS.find(([, w]) => (x -= w) < 0)?.[0] ?? 'similar';
    switch (kind) {
      case 'similar':
        return { kind, method: 'GET', path: `/v1/items/${encodeURIComponent(item())}/similar?limit=10` };
      case 'personal':
        return { kind, method: 'GET', path: `/v1/customers/${customer().id}/recommendations?limit=10` };
      case 'buy-again':
        return { kind, method: 'GET', path: `/v1/customers/${customer().id}/buy-again?limit=10` };
      case 'basket':
        return { kind, method: 'POST', path: '/v1/baskets/recommendations', body: JSON.stringify({ items: items(3), limit: 10 }) };
      case 'session':
        return { kind, method: 'POST', path: '/v1/sessions/recommendations', body: JSON.stringify({ items: items(4), limit: 10 }) };
      case 'lookup':
        return { kind, method: 'GET', path: `/v1/customers/lookup?email=${encodeURIComponent(customer().email)}` };
      default: {
        const c = customer();
        const lines = items(3).map((sku) => ({ sku, quantity: 1 + Math.floor(r() * 2), unitPrice: 2.5 }));
        const by = r() < 0.5 ? { customerId: c.id } : { identifiers: { email: c.email } };
        return { kind, method: 'POST', path: '/v1/events/purchases', body: JSON.stringify({ orderId: `E-${process.pid}-${seed}-${++order}`, channel: 'app', ...by, lines }) };
      }
    }
  };
}

/** One answered (or failed: status 0) request; times in ms since the run began. */
export interface Sample {
  kind: Kind;
  start: number;
  end: number;
  status: number;
  fallbackReason?: string;
}

/** Sends one request; never rejects (a socket error or a 10 s client timeout is status 0). */
function send(agent: HttpAgent, base: URL, q: MixRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      { agent, host: base.hostname, port: base.port, method: q.method, path: q.path, headers: { 'x-api-key': KEY, ...(q.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(q.body) } : {}) }, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(q.body);
  });
}

/**
 * Runs the mix on `connections` keep-alive connections until `stop()` says so: closed loop (each
 * connection sends its next request when the previous one is answered), or paced at `rate` req/s in
 * all (open loop, at most `connections` in flight). Every answer goes to `onSample`.
 */
export async function runMix(o: {
  url: string;
  connections: number;
  next: () => MixRequest;
  stop: () => boolean;
  rate?: number;
  t0: number;
  onSample: (s: Sample) => void;
}): Promise<void> {
  const base = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const gap = o.rate ? 1000 / o.rate : 0;
  let due = performance.now();
  const worker = async () => {
    while (!o.stop()) {
      if (gap > 0) {
        const at = due;
        due += gap;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const q = o.next();
      const start = performance.now() - o.t0;
      const res = await send(agent, base, q);
      const end = performance.now() - o.t0;
      let fallbackReason: string | undefined;
      if (res.status === 200 && STOREFRONT.has(q.kind)) {
        try {
          fallbackReason = (JSON.parse(res.body) as { fallbackReason?: string }).fallbackReason;
        } catch {
          fallbackReason = 'unparsable';
        }
      }
      o.onSample({ kind: q.kind, start, end, status: res.status, fallbackReason });
    }
  };
  await Promise.all(Array.from({ length: o.connections }, worker));
  agent.destroy();
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);

export interface WindowStats {
  requests: number;
  rps: number;
  storefront: number;
  storefront5xx: number;
  storefrontP50: number;
  storefrontP99: number;
  /** Storefront lists that fell back, and why. */
  fallbackShare: number;
  fallbackReasons: Record<string, number>;
  /** Store-bound routes (lookup, events): answers by status. */
  storeRoutes: Record<string, number>;
  storeRoutesP99: number;
  /** Socket errors and client timeouts. */
  failed: number;
  allP99: number;
}

/** Statistics of the samples that started in [from, to) ms. */
export function windowStats(samples: readonly Sample[], from: number, to: number): WindowStats {
  const inWin = samples.filter((s) => s.start >= from && s.start < to);
  const sf = inWin.filter((s) => STOREFRONT.has(s.kind));
  const other = inWin.filter((s) => !STOREFRONT.has(s.kind));
  const lat = (xs: Sample[]) => xs.map((s) => s.end - s.start).sort((a, b) => a - b);
  const sfLat = lat(sf);
  const reasons: Record<string, number> = {};
  for (const s of sf) if (s.fallbackReason) reasons[s.fallbackReason] = (reasons[s.fallbackReason] ?? 0) + 1;
  const statuses: Record<string, number> = {};
  for (const s of other) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
  return {
    requests: inWin.length,
    rps: inWin.length / ((to - from) / 1000),
    storefront: sf.length,
    storefront5xx: sf.filter((s) => s.status >= 500 || s.status === 0).length,
    storefrontP50: quantile(sfLat, 0.5),
    storefrontP99: quantile(sfLat, 0.99),
    fallbackShare: sf.length ? sf.filter((s) => s.fallbackReason).length / sf.length : 0,
    fallbackReasons: reasons,
    storeRoutes: statuses,
    storeRoutesP99: quantile(lat(other), 0.99),
    failed: inWin.filter((s) => s.status === 0).length,
    allP99: quantile(lat(inWin), 0.99),
  };
}
