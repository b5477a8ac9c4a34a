import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelBundle } from '../src/core/bundle.js';
import { latestVersion, listBundles, readBundle } from '../src/bundle/read-bundle.js';
import { writeBundle } from '../src/bundle/write-bundle.js';

function bundle(version: string, createdAt = '2026-11-23T10:00:00.000Z'): ModelBundle {
  const k = 3;
  return {
    manifest: {
      version,
      createdAt,
      data: { source: 'test', from: null, to: null, customers: 2, items: 3, lines: 5, orders: 3 },
      params: { als: { k } },
      metrics: {},
      timings: {},
      files: {},
    },
    items: ['A', 'B', 'C'],
    itemCategories: ['x', null, 'y'],
    // values with no short decimal form, to catch any lossy round trip
    als: { k, reg: 0.1, alpha: 2, itemFactors: Float32Array.from([Math.PI, -1 / 3, 1e-30, 2, 3, 4, 5, 6, 7]) },
    neighbours: { indptr: Int32Array.from([0, 1, 2, 2]), indices: Int32Array.from([1, 0]), scores: Float32Array.from([0.7, 0.7]) },
    fbt: { indptr: Int32Array.from([0, 0, 1, 1]), indices: Int32Array.from([2]), scores: Float32Array.from([1 / 7]) },
    popular: {
      global: { items: Int32Array.from([2, 0, 1]), scores: Float32Array.from([3, 2, 1 / 3]) },
      trending: { items: Int32Array.from([0]), scores: Float32Array.from([0.1]) },
      byStore: { s1: { items: Int32Array.from([1]), scores: Float32Array.from([5]) } },
      bySegment: { vip: { items: Int32Array.from([0, 2]), scores: Float32Array.from([Math.E, 1]) } },
    },
    blend: { repeatWeight: 0.3 },
    customers: [
      {
        customerId: 'c1',
        vector: Float32Array.from([0.1, 0.2, 1 / 3]),
        segment: 'vip',
        items: Int32Array.from([0, 2]),
        counts: Float32Array.from([3, 1]),
        lastTime: Float64Array.from([1_700_000_000_123, 1_700_000_100_000]),
        intervalDays: Float32Array.from([12.5, NaN]),
      },
      {
        customerId: 'c2',
        vector: null,
        segment: null,
        items: new Int32Array(0),
        counts: new Float32Array(0),
        lastTime: new Float64Array(0),
        intervalDays: new Float32Array(0),
      },
    ],
  };
}

const bits = (a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('model bundle on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bundle-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads back bit-for-bit', async () => {
    const b = bundle('v1');
    const manifest = await writeBundle(dir, b);
    expect(Object.keys(manifest.files)).toContain('als-item-factors.f32');
    const r = await readBundle(dir, 'v1');
    expect(r.items).toEqual(b.items);
    expect(r.itemCategories).toEqual(b.itemCategories);
    expect(bits(r.als!.itemFactors)).toBe(bits(b.als!.itemFactors));
    expect(r.als!.k).toBe(3);
    for (const key of ['indptr', 'indices', 'scores'] as const) {
      expect(bits(r.neighbours[key])).toBe(bits(b.neighbours[key]));
      expect(bits(r.fbt[key])).toBe(bits(b.fbt[key]));
    }
    expect(bits(r.popular.global.scores)).toBe(bits(b.popular.global.scores));
    expect(bits(r.popular.bySegment.vip!.scores)).toBe(bits(b.popular.bySegment.vip!.scores));
    expect(Array.from(r.popular.byStore.s1.items)).toEqual([1]);
    expect(r.blend).toEqual(b.blend);
    expect(r.customers.map((c) => c.customerId)).toEqual(['c1', 'c2']);
    const c1 = r.customers[0];
    expect(bits(c1.vector!)).toBe(bits(b.customers[0].vector!));
    expect(c1.segment).toBe('vip');
    expect(bits(c1.lastTime)).toBe(bits(b.customers[0].lastTime));
    expect(bits(c1.intervalDays)).toBe(bits(b.customers[0].intervalDays)); // NaN survives too
    expect(r.customers[1].vector).toBeNull();
    expect(r.customers[1].items.length).toBe(0);
  });

  it('keeps per-channel popular lists; a bundle written without them reads back without them', async () => {
    const b = bundle('v2');
    b.popular.byChannel = { app: { items: Int32Array.from([1, 2]), scores: Float32Array.from([4, 1 / 3]) } };
    await writeBundle(dir, b);
    const r = await readBundle(dir, 'v2');
    expect(Object.keys(r.popular.byChannel!)).toEqual(['app']);
    expect(Array.from(r.popular.byChannel!.app!.items)).toEqual([1, 2]);
    expect(bits(r.popular.byChannel!.app!.scores)).toBe(bits(b.popular.byChannel.app!.scores));
    // older bundles: model.json has no byChannel
    await writeBundle(dir, bundle('v1'));
    const model = JSON.parse(await readFile(join(dir, 'v1', 'model.json'), 'utf8')) as { popular: Record<string, unknown> };
    expect(model.popular.byChannel).toBeUndefined();
    expect((await readBundle(dir, 'v1')).popular.byChannel).toBeUndefined();
  });

  it('refuses a corrupted file and an unknown version', async () => {
    await writeBundle(dir, bundle('v1'));
    const f = join(dir, 'v1', 'neighbours-scores.f32');
    const buf = await readFile(f);
    buf[0] ^= 1;
    await writeFile(f, buf);
    await expect(readBundle(dir, 'v1')).rejects.toThrow(/checksum mismatch for neighbours-scores/);
    await expect(readBundle(dir, 'nope')).rejects.toThrow(/not found/);
    await expect(readBundle(dir, '../etc')).rejects.toThrow(/invalid model version/);
  });

  it('never overwrites a version and lists newest first', async () => {
    await writeBundle(dir, bundle('old', '2026-01-01T00:00:00.000Z'));
    await writeBundle(dir, bundle('new', '2026-02-01T00:00:00.000Z'));
    await expect(writeBundle(dir, bundle('old'))).rejects.toThrow(/already exists/);
    expect((await listBundles(dir)).map((m) => m.version)).toEqual(['new', 'old']);
    expect(await latestVersion(dir)).toBe('new');
    expect(await latestVersion(join(dir, 'missing'))).toBeNull();
  });
});
