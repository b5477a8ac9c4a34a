/**
 * What the serving benchmarks share (bench:serve, bench:faults, bench:soak, bench:offers, bench:decide): synthetic
 * bundles and offers, a fresh history store per run, and a server in its own process.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { CustomerRecord, ModelBundle, RankedList, TopKLists } from '../src/core/bundle.js';
import { readBundle } from '../src/bundle/read-bundle.js';
import { parseOffer } from '../src/core/offer-schema.js';
import type { Offer } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { SEGMENTS } from '../src/core/records.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';

const here = dirname(fileURLToPath(import.meta.url));

// ---------- offers ----------
/** Categories the offers target: `cat-0` … `cat-39`. */
export const BENCH_CATEGORIES = 40;
const OFFER_KINDS = ['percent_off', 'amount_off', 'bundle', 'loyalty_points', 'free_shipping', 'service', 'product'] as const;
const DAY = 86_400_000;

/**
 * `n` seeded offers, all active at `now`: a realistic mix of targeting (skus drawn from `skus`, 40 categories
 * `cat-0…`, none), channels, stores, windows, segments and contact rules; each checked by the offer schema.
 */
export function benchOffers(n: number, skus: readonly string[], now: number): Offer[] {
  const r = mulberry32(2026);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)];
  const out: Offer[] = [];
  for (let i = 0; i < n; i++) {
    const t = r();
    const kind = pick(OFFER_KINDS);
    const o: Record<string, unknown> = {
      id: `bench-${i}`,
      title: `Offer ${i}`,
      kind,
      value: Math.round((2 + r() * 48) * 100) / 100,
      cost: Math.round(r() * 5 * 100) / 100,
      targets:
        kind === 'free_shipping' || kind === 'service' || t < 0.1
          ? { skus: [], categories: [] }
          : t < 0.35
            ? { skus: [], categories: [`cat-${Math.floor(r() * BENCH_CATEGORIES)}`] }
            : { skus: [...new Set(Array.from({ length: 1 + Math.floor(r() * 5) }, () => pick(skus)))], categories: [] },
      channels: r() < 0.6 ? [] : [...new Set(['web', 'app', 'store', 'email'].filter(() => r() < 0.6))],
      stores: r() < 0.1 ? [pick(['S1', 'S2'])] : [],
      startsAt: new Date(now - 30 * DAY).toISOString(),
      endsAt: r() < 0.1 ? new Date(now + 30 * DAY).toISOString() : null,
      eligibility: {
        ...(r() < 0.4 ? { segments: [...new Set(Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(SEGMENTS)))] } : {}),
        ...(r() < 0.2 ? { minOrders: 1 } : {}),
        ...(r() < 0.1 ? { minDaysSinceLastPurchase: 60 } : {}),
      },
      contact: { maxImpressions: 3, perDays: 30, suppressDaysAfterDecline: 14, maxAcceptances: 100_000 },
      weight: Math.round((0.5 + r() * 1.5) * 100) / 100,
    };
    const p = parseOffer(o);
    if (!p.ok) throw new Error(`generated offer ${i} is invalid: ${JSON.stringify(p.issues)}`);
    out.push(p.offer);
  }
  return out;
}

// ---------- synthetic bundles ----------
export const rng = mulberry32;

/** A synthetic bundle of nItems items and nCustomers customers (ids syn-0…), deterministic. */
export function syntheticBundle(nItems: number, nCustomers: number, k = 64, K = 50): ModelBundle {
  const r = rng(nItems);
  const items = Array.from({ length: nItems }, (_, i) => `SKU-${i}`);
  const categories = Array.from({ length: nItems }, (_, i) => `cat-${i % 200}`);
  const itemFactors = new Float32Array(nItems * k).map(() => (r() - 0.5) * 0.2);
  const lists = (width: number): TopKLists => {
    const indptr = new Int32Array(nItems + 1);
    const indices = new Int32Array(nItems * width);
    const scores = new Float32Array(nItems * width);
    for (let i = 0; i < nItems; i++) {
      for (let j = 0; j < width; j++) {
        indices[i * width + j] = (i + 1 + Math.floor(r() * 2000)) % nItems;
        scores[i * width + j] = 1 - j / width;
      }
      indptr[i + 1] = (i + 1) * width;
    }
    return { indptr, indices, scores };
  };
  const ranked = (n: number, offset = 0): RankedList => ({
    items: Int32Array.from({ length: n }, (_, p) => (p * 7 + offset) % nItems),
    scores: Float32Array.from({ length: n }, (_, p) => n - p),
  });
  const DAY = 86_400_000;
  const now = Date.now();
  const customers: CustomerRecord[] = Array.from({ length: nCustomers }, (_, c) => {
    const m = 5 + Math.floor(r() * 25);
    const its = new Set<number>();
    while (its.size < m) its.add(Math.floor(r() * r() * nItems));
    const idx = Int32Array.from(its);
    return {
      customerId: `syn-${c}`,
      vector: new Float32Array(k).map(() => (r() - 0.5) * 2),
      segment: 'repeat',
      items: idx,
      counts: Float32Array.from(idx, () => 1 + Math.floor(r() * 4)),
      lastTime: Float64Array.from(idx, () => now - Math.floor(r() * 200) * DAY),
      intervalDays: Float32Array.from(idx, () => (r() < 0.5 ? NaN : 7 + r() * 60)),
    };
  });
  return {
    manifest: {
      version: `syn-${nItems}`,
      createdAt: new Date().toISOString(),
      data: { source: 'synthetic', from: null, to: null, customers: nCustomers, items: nItems, lines: 0, orders: 0 },
      params: { k, K },
      metrics: {},
      timings: {},
      files: {},
    },
    items,
    itemCategories: categories,
    als: { k, reg: 1, alpha: 1, itemFactors },
    neighbours: lists(K),
    fbt: lists(20),
    popular: {
      global: ranked(Math.min(nItems, 5000)),
      trending: ranked(Math.min(nItems, 1000), 3),
      byStore: { S1: ranked(Math.min(nItems, 2000), 1), S2: ranked(Math.min(nItems, 2000), 2) },
      bySegment: { repeat: ranked(Math.min(nItems, 2000), 5) },
    },
    blend: { factors: 1, repeat: 0.5 },
    customers,
  };
}

/**
 * A fresh PostgreSQL database for the run (dropped after), or a PGlite directory with --pglite
 * (removed after); `env` points the service at it.
 */
export async function benchStore(databaseUrl: string | null, prefix: string): Promise<{ store: Store; env: Record<string, string>; drop(): Promise<void> }> {
  if (!databaseUrl) {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-pglite-`));
    const store = await openStore({ DATABASE_URL: undefined, PGLITE_DIR: dir });
    return { store, env: { PGLITE_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  // named after the database asked for when it is one of the service's own (omnirec_…: a builder's own database and
  // those beside it), else omnirec_bench_…; quoted (a name may hold a hyphen)
  const asked = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const name = `"${asked.startsWith('omnirec_') ? asked.replace(/"/g, '') : 'omnirec'}_bench_${process.pid}_${Date.now()}"`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(databaseUrl);
  u.pathname = `/${encodeURIComponent(name.slice(1, -1))}`;
  const store = await openStore({ DATABASE_URL: u.toString(), PGLITE_DIR: 'memory://' });
  return {
    store,
    env: { DATABASE_URL: u.toString() },
    async drop() {
      await store.close().catch(() => {});
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A server under load in its own process: where it listens, its pid (for CPU time), and how to stop it. */
export interface Served {
  url: string;
  pid: number;
  close(): Promise<void>;
}

/** A free loopback port (the OS picks one; the child binds it right after). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const { port } = s.address() as AddressInfo;
  await new Promise((res) => s.close(res));
  return port;
}

/**
 * Runs a TypeScript entry point in its own Node process (node --import tsx, so the pid is the
 * server's own) with exactly `env` (plus PATH/HOME) and PORT set, stdout discarded; resolves once
 * GET `ready` answers 200. close() sends SIGTERM (graceful shutdown) and waits for the exit.
 */
export async function serveProcess(name: string, entry: string, env: Record<string, string>, ready: string, nodeArgs: string[] = [], logFile?: string): Promise<Served> {
  const port = await freePort();
  // TypeScript through tsx (as `npm start`), compiled JavaScript as it is (as `npm run start:prod` and the Dockerfile)
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...(entry.endsWith('.js') ? [] : ['--import', 'tsx']), entry], {
    cwd: join(here, '..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(port) },
    // stdout (one log line per request) to logFile when given, else discarded
    stdio: ['ignore', logFile ? openSync(logFile, 'w') : 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode} before it was ready:\n${stderr}`);
    const ok = await fetch(url + ready).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready after 120 s:\n${stderr}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  let closing = false;
  // a server that dies under load says why
  void exited.then((code) => {
    if (!closing) process.stderr.write(`${name} (pid ${child.pid}) exited ${code} unexpectedly:\n${stderr}\n`);
  });
  return {
    url,
    pid: child.pid!,
    async close() {
      closing = true;
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}


/** Deletes every key under `prefix:` in the Redis at `url` (a bench's throwaway cache prefix). */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/**
 * The PostgreSQL server's side of the service's database: its backends' CPU (from /proc, clock ticks) and the
 * transactions committed (pg_stat_database, flushed by the backends within about a second), read through one
 * monitoring connection (its own backend left out).
 */
export interface StoreFigures {
  cpuTicks: Map<number, number>;
  xacts: number;
}
export async function storeFigures(c: pg.Client | null): Promise<StoreFigures | null> {
  if (!c) return null;
  try {
    await c.query('SELECT pg_stat_clear_snapshot()');
    const r = await c.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
    const x = await c.query<{ n: string }>('SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = current_database()');
    const cpuTicks = new Map<number, number>();
    for (const { pid } of r.rows) {
      try {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
        cpuTicks.set(pid, Number(fields[11]) + Number(fields[12]));
      } catch {
        // ended, or another machine's server
      }
    }
    return { cpuTicks, xacts: Number(x.rows[0]?.n ?? NaN) };
  } catch {
    return null;
  }
}

/** PostgreSQL CPU µs and transactions per request between two readings (ticks at 100 Hz). */
export function storePhase(a: StoreFigures | null, b: StoreFigures | null, requests: number): { pgCpuUsPerReq: number; pgXactsPerReq: number } {
  if (!a || !b || !(requests > 0)) return { pgCpuUsPerReq: NaN, pgXactsPerReq: NaN };
  let ticks = 0;
  for (const [pid, t] of b.cpuTicks) ticks += t - (a.cpuTicks.get(pid) ?? 0);
  return { pgCpuUsPerReq: (ticks * 10_000) / requests, pgXactsPerReq: (b.xacts - a.xacts) / requests };
}

/** The unified ids of the sampled bundle customers (registered in `store` under their external ids); their records in the bundle re-keyed to them. */
export async function unifiedIds(store: Store, bundle: ModelBundle, sample: Iterable<number>): Promise<string[]> {
  const ids: string[] = [];
  for (const c of sample) {
    const rec = bundle.customers[c];
    const id = (await store.findCustomer({ kind: 'external', value: rec.customerId }))!;
    bundle.customers[c] = { ...rec, customerId: id };
    ids.push(id);
  }
  return ids;
}

/** Stock of about 60 % of the items (3 each) in stores S1 and S2, a different 60 % in each. */
export function benchStock(items: readonly string[]): { storeId: string; sku: string; quantity: number }[] {
  const stock = (s: number) => items.filter((_, i) => (i * 7 + s) % 10 < 6).map((sku) => ({ storeId: `S${s}`, sku, quantity: 3 }));
  return [...stock(1), ...stock(2)];
}

/** This process's CPU time so far (user + system), µs. */
export function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Gives every item of `bundle` a category (Online Retail has none: 40, by item index), so that category offers have targets. */
export function withBenchCategories(bundle: ModelBundle): void {
  bundle.itemCategories = bundle.items.map((_, i) => bundle.itemCategories[i] ?? `cat-${i % BENCH_CATEGORIES}`);
}

/** The bundle a bench's `--bundle DIR` names (models/<version>), with bench categories (withBenchCategories). */
export async function benchBundle(path: string | undefined): Promise<ModelBundle> {
  if (!path) throw new Error('--bundle DIR is required');
  const dir = resolve(path);
  const bundle = await readBundle(dirname(dir), basename(dir));
  withBenchCategories(bundle);
  return bundle;
}

/**
 * How a bench starts the service: `tsx` as `npm start` runs it (src/server.ts through tsx), `dist` as the Dockerfile
 * and `npm run start:prod` run it (dist/src/server.js, compiled by tsc first when a source is newer than it), or a
 * compiled server.js of another tree (e.g. a base worktree compiled elsewhere). The node flags are those of the
 * package's `start` / `start:prod` script (the V8 flags the service ships with), the same for every form.
 */
export function serviceCommand(server: string, root = join(here, '..')): { entry: string; nodeFlags: string[]; label: string } {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const flagsOf = (script: string | undefined): string[] => (script ?? '').split(/\s+/).filter((w) => w.startsWith('--') && w !== '--import');
  if (server === 'tsx') return { entry: join(root, 'src', 'server.ts'), nodeFlags: flagsOf(scripts.start), label: `tsx src/server.ts (npm start)` };
  if (server === 'dist') {
    const entry = join(root, 'dist', 'src', 'server.js');
    if (compiledIsStale(root, entry)) {
      process.stderr.write('compiling the service (tsc -p tsconfig.json) for dist/src/server.js\n');
      const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`tsc failed (exit ${r.status})`);
    }
    return { entry, nodeFlags: flagsOf(scripts['start:prod']), label: 'node dist/src/server.js (npm run start:prod, Dockerfile)' };
  }
  return { entry: resolve(server), nodeFlags: flagsOf(scripts['start:prod']), label: `node ${resolve(server)}` };
}

/** True when `entry` is missing or older than a TypeScript source of src/ (or tsconfig.json). */
function compiledIsStale(root: string, entry: string): boolean {
  let built: number;
  try {
    built = statSync(entry).mtimeMs;
  } catch {
    return true;
  }
  const newer = (dir: string): boolean => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory() ? d.name !== 'assembly' && newer(p) : d.name.endsWith('.ts') && statSync(p).mtimeMs > built) return true;
    }
    return false;
  };
  return statSync(join(root, 'tsconfig.json')).mtimeMs > built || newer(join(root, 'src'));
}
