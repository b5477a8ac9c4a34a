/**
 * WEB_CONCURRENCY (src/server.ts): more than one process is refused on the embedded store and cache
 * (the real process exits 1 naming the variable); with PostgreSQL (DATABASE_URL) and a real
 * redis-server, N workers serve one port behind a node:cluster primary, and SIGTERM to the primary
 * stops every worker and exits 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheKeys } from '../src/cache/keys.js';
import { publishBundle } from '../src/cache/publish.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import { parseConfig } from '../src/config.js';
import { benchStore } from '../scripts/bench-kit.js';
import { storeBackends } from './helpers/backends.js';
import { freePort, startRedisServer } from './helpers/redis-server.js';
import { API_KEYS, KEYS } from './helpers/serve-fixture.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const root = join(import.meta.dirname, '..');

function runServer(env: Record<string, string>): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PGLITE_DIR: 'memory://', CACHE_DIR: 'memory://', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, out: () => out, err: () => err, exit };
}

/** Live child processes of pid (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until<T>(f: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('WEB_CONCURRENCY', () => {
  it('is refused above 1 without PostgreSQL and Redis: by the configuration and by the real process (exit 1, names the variable)', async () => {
    expect(() => parseConfig({ WEB_CONCURRENCY: '2' })).toThrow(/WEB_CONCURRENCY.*DATABASE_URL/s);
    expect(() => parseConfig({ WEB_CONCURRENCY: '2', DATABASE_URL: 'postgres://x/y' })).toThrow(/WEB_CONCURRENCY/);
    expect(() => parseConfig({ WEB_CONCURRENCY: '0' })).toThrow(/WEB_CONCURRENCY/);
    expect(parseConfig({ WEB_CONCURRENCY: '2', DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://z' }).WEB_CONCURRENCY).toBe(2);
    expect(parseConfig({}).WEB_CONCURRENCY).toBe(1);
    const p = runServer({ WEB_CONCURRENCY: '2', API_KEYS, PORT: '0' });
    expect(await p.exit).toBe(1);
    expect(p.err()).toMatch(/WEB_CONCURRENCY.*DATABASE_URL/);
  });

  for (const backend of storeBackends().filter((b) => b.name === 'postgres')) {
    it(`${backend.name}: two workers serve one port; SIGTERM to the primary stops both and exits 0`, { timeout: 120_000 }, async () => {
      const redis = await startRedisServer();
      const db = await benchStore(process.env.DATABASE_URL!, 'omnirec-cluster-test');
      const prefix = `omnirec-cluster-${process.pid}`;
      let p: ReturnType<typeof runServer> | null = null;
      try {
        const cache = await RedisCache.open(redis.url, { require: true });
        await publishBundle(cache, cacheKeys(prefix), tinyBundle({ tea: '1', mug: '2', novec: '3' }), { version: 'tiny-1' });
        await cache.close();
        await db.store.close();
        const port = await freePort();
        p = runServer({ WEB_CONCURRENCY: '2', API_KEYS, PORT: String(port), REDIS_URL: redis.url, CACHE_PREFIX: prefix, ...db.env, SHUTDOWN_GRACE_MS: '2000' });
        const url = `http://127.0.0.1:${port}`;
        await until(async () => ((await fetch(`${url}/readyz`).catch(() => null))?.status === 200 ? true : undefined));
        const workers = await until(() => (childrenOf(p!.child.pid!).length === 2 ? childrenOf(p!.child.pid!) : undefined));
        expect(workers).toHaveLength(2);
        // both workers come up and answer (connections are handed out in turn)
        const answers = await Promise.all(
          Array.from({ length: 20 }, () =>
            fetch(`${url}/v1/items/TEA-1/similar?limit=2`, { headers: { 'x-api-key': KEYS.storefront, connection: 'close' } }).then(async (r) => ({
              status: r.status,
              body: (await r.json()) as { items: { sku: string }[] },
            })),
          ),
        );
        for (const a of answers) {
          expect(a.status).toBe(200);
          expect(a.body.items.map((i) => i.sku)).toEqual(['TEA-2', 'TEA-3']);
        }
        p.child.kill('SIGTERM');
        expect(await p.exit).toBe(0);
        for (const w of workers) expect(() => process.kill(w, 0)).toThrow();
      } finally {
        if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
        await redis.stop();
        await db.drop();
      }
    });
  }
});
