/**
 * npx tsx scripts/serve-check.ts --bundle models/<version> --out FILE [--compare FILE] [--requests 300]
 *
 * Response snapshot for performance work: serves a trained bundle (static model source, a
 * deterministic stand-in history store: every bundle customer known, every 10th without
 * personalisation consent, "merged-<id>" ids resolving to <id>, store S1 stocking every third
 * item; time fixed) on loopback, sends a fixed pseudo-random set of requests to every list
 * endpoint (options, filters, merged/unknown/no-consent customers, a few invalid requests; each
 * request sent twice, the second round in another order, so per-instance caches answer it too)
 * and writes status + every header but Date (as sent: names, order) + body of every response, one
 * JSON line each; request ids made by the server (for a malformed one given) are written as "UUID".
 * The app is served as src/server.ts serves it: its request listener (the API's dispatcher in front
 * of Express), so the requests also probe what decides between the two (HEAD, odd paths, other
 * methods, unknown routes). With --compare, also diffs against an earlier snapshot (e.g. of the tree
 * before a change): exit 1 on any difference.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { type Server, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import { parseApiKeys } from '../src/api/api-keys.js';
import { createApp } from '../src/api/create-app.js';
import { createLogger } from '../src/api/logger.js';
import { readBundle } from '../src/bundle/read-bundle.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { parseFallbackChain } from '../src/serve/fallback-chain.js';
import { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import type { Store } from '../src/store/store.js';
import { mulberry32 } from '../src/core/random.js';

const spec = defineCli({
  name: 'npx tsx scripts/serve-check.ts',
  summary: 'Snapshots the responses of every list endpoint for a bundle (and compares with an earlier snapshot).',
  flags: {
    bundle: { type: 'string', placeholder: 'DIR', required: true, description: 'trained bundle (models/<version>)' },
    out: { type: 'string', placeholder: 'FILE', required: true, description: 'write the snapshot here (JSON lines)' },
    compare: { type: 'string', placeholder: 'FILE', description: 'an earlier snapshot to compare with (exit 1 on differences)' },
    requests: { type: 'int', default: 300, description: 'requests per endpoint (each sent twice)' },
  },
});

const KEY = 'check-key-0001';
const NOW = Date.UTC(2026, 10, 1, 12);

const rng = mulberry32;

interface Req {
  method: 'GET' | 'HEAD' | 'POST' | 'DELETE' | 'PUT' | 'OPTIONS';
  path: string;
  body?: string;
  key?: string | null;
  /** x-request-id sent (default check-<i>). */
  id?: string;
}

interface Answer {
  status: number;
  /** Every response header but Date, "Name: value" as sent. */
  headers: string[];
  body: string;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** One request over a keep-alive connection; the response headers exactly as written. */
function send(url: string, q: Req, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url + q.path, { method: q.method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        const out: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i].toLowerCase() !== 'date') out.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        resolve({ status: res.statusCode!, headers: out, body });
      });
    });
    req.on('error', reject);
    req.end(q.body);
  });
}

runCli(async () => {
  const { flags } = parseCli(spec);
  const dir = resolve(flags.bundle);
  const bundle = await readBundle(dirname(dir), basename(dir));
  const customers = bundle.customers.map((c) => c.customerId);
  const known = new Map(customers.map((id, i) => [id, i % 10 !== 9]));
  const stocked = new Set(bundle.items.filter((_, i) => i % 3 === 0));
  const skusOf = new Map(bundle.customers.map((c) => [c.customerId, Array.from(c.items, (i) => bundle.items[i])]));
  // the stand-in history store: only what serving reads
  const access = (id: string) => {
    const canonical = id.startsWith('merged-') ? id.slice('merged-'.length) : id;
    const consent = known.get(canonical);
    return consent === undefined ? null : { canonicalId: canonical, personalisation: consent };
  };
  const store = {
    async customerAccess(id: string) {
      return access(id);
    },
    async canonicalCustomerId(id: string) {
      return access(id)?.canonicalId ?? null;
    },
    async hasConsent(id: string) {
      return known.get(id) ?? false;
    },
    async customerSkus(id: string) {
      return skusOf.get(id) ?? [];
    },
    async inventory() {
      return new Map([['S1', stocked]]);
    },
    async ping() {},
  } as unknown as Store;
  const inventory = new InventorySnapshot(() => store.inventory());
  await inventory.refresh();
  const { listener } = createApp({
    store,
    source: staticModelSource(bundle, 'check'),
    inventory,
    logger: createLogger('silent'),
    apiKeys: parseApiKeys(`${KEY}:storefront`),
    chain: parseFallbackChain('personal,neighbours,segment,popular'),
    defaultMetrics: false,
    now: () => NOW,
  });
  const server = await new Promise<Server>((res) => {
    const s = createServer(listener).listen(0, '127.0.0.1', () => res(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const r = rng(7);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const item = () => bundle.items[Math.floor(r() * r() * bundle.items.length)];
  const category = () => bundle.itemCategories[Math.floor(r() * bundle.items.length)] ?? 'none';
  const customer = () => {
    const x = r();
    if (x < 0.05) return `unknown-${Math.floor(r() * 1000)}`;
    const id = pick(customers);
    return x < 0.1 ? `merged-${id}` : id;
  };
  const listQuery = (): string => {
    const q = [`limit=${pick([1, 5, 10, 10, 10, 20, 50])}`];
    const x = r();
    if (x < 0.1) q.push(`category=${encodeURIComponent(category())}`);
    else if (x < 0.2) q.push(`excludeCategory=${encodeURIComponent(category())}`);
    else if (x < 0.3) q.push('store=S1');
    else if (x < 0.35) q.push('store=S9');
    if (r() < 0.15) q.push('excludePurchased=false');
    if (r() < 0.1) q.push('channel=web');
    return q.join('&');
  };
  const body = (extra: Record<string, unknown> = {}) => {
    const o: Record<string, unknown> = { items: Array.from({ length: 1 + Math.floor(r() * 3) }, item), limit: pick([5, 10, 10, 20]), ...extra };
    if (r() < 0.1) o.excludeCategory = [category()];
    if (r() < 0.1) o.store = 'S1';
    if (r() < 0.1) o.excludePurchased = false;
    return JSON.stringify(o);
  };
  const reqs: Req[] = [];
  for (let n = 0; n < flags.requests; n++) {
    const sim = `/v1/items/${encodeURIComponent(r() < 0.03 ? 'NO-SUCH-SKU' : item())}/similar?${listQuery()}`;
    reqs.push({ method: 'GET', path: r() < 0.15 ? `${sim}&customerId=${encodeURIComponent(customer())}` : sim });
    reqs.push({ method: 'GET', path: `/v1/customers/${encodeURIComponent(customer())}/recommendations?${listQuery()}` });
    reqs.push({ method: 'POST', path: '/v1/baskets/recommendations', body: body(r() < 0.2 ? { customerId: customer() } : {}) });
    reqs.push({ method: 'POST', path: '/v1/sessions/recommendations', body: body() });
    if (n % 3 === 0) reqs.push({ method: 'GET', path: `/v1/customers/${encodeURIComponent(customer())}/buy-again?limit=10` });
  }
  // invalid requests: error bodies must not change either
  reqs.push(
    { method: 'GET', path: '/v1/customers/x/recommendations?limit=0' },
    { method: 'GET', path: `/v1/items/${encodeURIComponent(bundle.items[0])}/similar?excludePurchased=maybe` },
    { method: 'POST', path: '/v1/baskets/recommendations', body: '{"items": [' },
    { method: 'POST', path: '/v1/baskets/recommendations', body: '"items"' },
    { method: 'POST', path: '/v1/sessions/recommendations', body: '{"items": []}' },
    { method: 'GET', path: '/v1/customers/x/recommendations', key: null },
    { method: 'GET', path: '/v1/customers/x/recommendations', key: 'wrong-key-0001' },
    { method: 'GET', path: '/v1/nothing-here' },
    // what decides between the dispatcher and Express: HEAD, path forms, other methods, unknown routes, request ids
    { method: 'HEAD', path: `/v1/items/${encodeURIComponent(bundle.items[0])}/similar?limit=5` },
    { method: 'HEAD', path: `/v1/customers/${encodeURIComponent(customers[0])}/recommendations` },
    { method: 'HEAD', path: '/v1/nothing-here' },
    { method: 'GET', path: `/v1/items/${encodeURIComponent(bundle.items[0])}/similar/?limit=3` },
    { method: 'GET', path: `/V1/ITEMS/${encodeURIComponent(bundle.items[0])}/SIMILAR?limit=3` },
    { method: 'GET', path: '/v1/items/%E0%A4%A/similar' },
    { method: 'GET', path: '/v1/items//similar' },
    { method: 'GET', path: `/v1/items/${encodeURIComponent(bundle.items[0])}/similar?limit=3&limit=4` },
    { method: 'GET', path: `/v1/items/${encodeURIComponent(bundle.items[0])}/similar`, id: 'not a valid id' },
    { method: 'DELETE', path: `/v1/items/${encodeURIComponent(bundle.items[0])}/similar` },
    { method: 'PUT', path: '/v1/baskets/recommendations', body: '{"items":[]}' },
    { method: 'OPTIONS', path: '/v1/baskets/recommendations' },
    { method: 'POST', path: '/v1/baskets/recommendations', body: JSON.stringify({ items: [bundle.items[0]], pad: 'x'.repeat(70_000) }) },
    { method: 'GET', path: '/healthz', key: null },
    { method: 'HEAD', path: '/healthz', key: null },
  );
  // second round in another order: answered by whatever the instance cached in the first
  const order = [...reqs.keys(), ...reqs.keys()].map((i, n) => ({ i, n, sort: n < reqs.length ? n : reqs.length + r() }));
  order.sort((a, b) => a.sort - b.sort);

  const lines: string[] = new Array(order.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < order.length) {
        const { i, n } = order[next++];
        const q = reqs[i];
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': q.id ?? `check-${i}` };
        if (q.key !== null) headers['x-api-key'] = q.key ?? KEY;
        const res = await send(url, q, headers);
        lines[n] = JSON.stringify({ n, request: q, ...res }).replace(UUID, 'UUID');
      }
    }),
  );
  await new Promise((res) => server.close(res));
  writeFileSync(flags.out, lines.join('\n') + '\n');
  const byStatus = new Map<number, number>();
  for (const l of lines) {
    const s = (JSON.parse(l) as { status: number }).status;
    byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
  }
  process.stdout.write(`${lines.length} responses (${[...byStatus].map(([s, c]) => `${c}× ${s}`).join(', ')}) → ${flags.out}\n`);
  if (flags.compare) {
    const before = readFileSync(flags.compare, 'utf8').trimEnd().split('\n');
    let diffs = 0;
    for (let n = 0; n < Math.max(before.length, lines.length); n++) {
      if (before[n] === lines[n]) continue;
      if (++diffs <= 5) process.stdout.write(`differs at ${n}:\n  before ${before[n]?.slice(0, 400)}\n  after  ${lines[n]?.slice(0, 400)}\n`);
    }
    process.stdout.write(diffs ? `${diffs} of ${lines.length} responses differ from ${flags.compare}\n` : `identical to ${flags.compare} (${lines.length} responses)\n`);
    if (diffs) process.exitCode = 1;
  }
});
