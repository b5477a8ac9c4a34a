/**
 * The publish CLI: in process (publishMain) for every subcommand and error, and once as a real
 * separate process (scripts/publish.ts) whose publish reaches a ModelSource in this process through
 * the embedded cache directory, as the server would see it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { CacheModelSource } from '../src/cache/cache-model-source.js';
import { cacheKeys } from '../src/cache/keys.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { publishMain } from '../src/cache/publish-command.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import { UsageError } from '../src/cli/args.js';
import { InvalidArgumentError, NotFoundError } from '../src/core/errors.js';
import { bits, fixtureBundle } from './helpers/cache-bundle.js';

let work: string;
let env: Record<string, string>;

async function run(...argv: string[]): Promise<unknown> {
  let text = '';
  await publishMain(argv, env, (t) => (text += t));
  return argv.includes('--json') ? JSON.parse(text) : text;
}

function runProcess(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), ['scripts/publish.ts', ...argv], {
      env: { ...process.env, ...env, REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'publish-cli-'));
  env = {
    MODEL_DIR: join(work, 'models'),
    CACHE_DIR: join(work, 'cache'),
    CACHE_PREFIX: `omnirec_t_${randomBytes(4).toString('hex')}`,
    // a history store that keeps nothing: no erasure list to read
    PGLITE_DIR: 'memory://',
    DATABASE_URL: '',
  };
  await writeBundle(env.MODEL_DIR, fixtureBundle('2026-11-01', { tag: 1, createdAt: '2026-11-01T00:00:00.000Z' }));
  await writeBundle(env.MODEL_DIR, fixtureBundle('2026-11-02', { tag: 2, createdAt: '2026-11-02T00:00:00.000Z' }));
  await writeBundle(env.MODEL_DIR, fixtureBundle('2026-11-03', { tag: 3, createdAt: '2026-11-03T00:00:00.000Z', customers: 5 }));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('npm run publish (in process)', () => {
  it('publishes named and latest versions, lists, rolls back and cleans up', async () => {
    const p1 = (await run('2026-11-01', '--json')) as Record<string, unknown>;
    expect(p1).toMatchObject({ version: '2026-11-01', previous: null, reused: false, customers: 12, items: 20 });
    const p3 = (await run('latest', '--json')) as Record<string, unknown>;
    expect(p3).toMatchObject({ version: '2026-11-03', previous: '2026-11-01', customers: 5 });
    await run('2026-11-02', '--quiet');
    const list = (await run('list', '--json')) as { current: string; versions: { version: string; current: boolean }[] };
    expect(list.current).toBe('2026-11-02');
    expect(list.versions.map((v) => [v.version, v.current])).toEqual([
      ['2026-11-02', true],
      ['2026-11-03', false],
      ['2026-11-01', false],
    ]);
    const table = (await run('list')) as string;
    expect(table.split('\n')[0]).toMatch(/^\s+version\s+created\s+published\s+items\s+customers\s+size$/);
    expect(table).toMatch(/^\*\s+2026-11-02\s+2026-11-02T00:00:00\s+\S+\s+20\s+12\s+[\d.]+ kB$/m);

    expect(await run('rollback', '--json')).toEqual({ from: '2026-11-02', to: '2026-11-03' });
    expect(await run('rollback', '2026-11-02')).toBe('current: 2026-11-02 (was 2026-11-03)\n');
    expect(await run('cleanup', '--keep', '1', '--json')).toEqual({ deleted: ['2026-11-03', '2026-11-01'], kept: ['2026-11-02'], keys: 11 + 18 });
    expect(((await run('list', '--json')) as { versions: unknown[] }).versions).toHaveLength(1);
  });

  it('refuses an unknown version or a corrupt bundle, changing nothing', async () => {
    await run('2026-11-01');
    await expect(run('2026-12-31')).rejects.toThrow(NotFoundError);
    // flip one byte of a binary file of the bundle
    const f = join(env.MODEL_DIR, '2026-11-02', 'als-item-factors.f32');
    const buf = await readFile(f);
    buf[5] ^= 1;
    await writeFile(f, buf);
    await expect(run('2026-11-02')).rejects.toThrow(/checksum mismatch/);
    await expect(run('2026-11-02')).rejects.toThrow(InvalidArgumentError);
    await expect(run('rollback', 'nope')).rejects.toThrow(/nope is not published/);
    const list = (await run('list', '--json')) as { current: string; versions: { version: string }[] };
    expect(list.current).toBe('2026-11-01');
    expect(list.versions.map((v) => v.version)).toEqual(['2026-11-01']);
  });

  it('rejects bad usage with a UsageError (exit 2)', async () => {
    await expect(run()).rejects.toThrow(UsageError);
    await expect(run('cleanup')).rejects.toThrow(/--keep/);
    await expect(run('list', '--keep', '2')).rejects.toThrow(/cleanup only/);
    await expect(run('list', 'extra')).rejects.toThrow(/unexpected argument/);
    await expect(run('latest', '--batch-size', 'x')).rejects.toThrow(UsageError);
    await expect(run('--bogus', 'list')).rejects.toThrow(/unknown option/);
  });
});

// registered only when REDIS_URL is set (as in CI), like the Redis backend of the contract suite
if (process.env.REDIS_URL) describe('npm run publish against Redis (REDIS_URL)', () => {
  it('publishes, lists and rolls back in Redis, then cleans up its keys', async () => {
    env.REDIS_URL = process.env.REDIS_URL!;
    try {
      await run('2026-11-01', '--quiet');
      expect(await run('2026-11-03', '--json')).toMatchObject({ version: '2026-11-03', previous: '2026-11-01', cache: env.REDIS_URL });
      expect(await run('rollback', '--json')).toEqual({ from: '2026-11-03', to: '2026-11-01' });
      expect(((await run('list', '--json')) as { current: string }).current).toBe('2026-11-01');
      expect(await run('cleanup', '--keep', '0', '--json')).toMatchObject({ deleted: ['2026-11-03'], kept: ['2026-11-01'] });
    } finally {
      const cache = await RedisCache.open(env.REDIS_URL, { require: true });
      for await (const batch of cache.scan(`${env.CACHE_PREFIX}:*`)) await cache.delete(batch);
      await cache.close();
    }
  });
});

describe('npm run publish (separate process)', () => {
  it('reaches a serving ModelSource through CACHE_DIR, with exit codes 0, 1 and 2', async () => {
    const cache = new MemoryCache(env.CACHE_DIR, { pollMs: 25 });
    const src = await new CacheModelSource(cache, cacheKeys(env.CACHE_PREFIX), { ownsCache: true, pointerPollMs: 0 }).start();
    try {
      expect(src.current()).toBeNull();
      const ok = await runProcess(['2026-11-02']);
      expect(ok.stderr).not.toMatch(/error/);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^published 2026-11-02: 20 items, 12 customers, .* current: 2026-11-02\n$/);
      const t0 = Date.now();
      while (src.current()?.version !== '2026-11-02' && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      expect(src.current()?.version).toBe('2026-11-02');
      const b = fixtureBundle('2026-11-02', { tag: 2 });
      expect(bits(src.current()!.als!.itemFactors)).toBe(bits(b.als!.itemFactors));
      expect(bits((await src.customer('cust-7', src.current()!))!.vector)).toBe(bits(b.customers[7].vector));

      const [missing, usage] = await Promise.all([runProcess(['2026-12-31']), runProcess(['cleanup'])]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/model version 2026-12-31 not found/);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/cleanup needs --keep N\nTry --help/);
    } finally {
      await src.close();
    }
  });
});
