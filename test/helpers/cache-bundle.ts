/**
 * Small deterministic model bundles for the cache tests. Every array of version number `tag` carries
 * that number (first item factor, first neighbour score, first popular score), so a reader can check
 * that everything it got belongs to one version.
 */
import type { CustomerRecord, ModelBundle } from '../../src/core/bundle.js';

/** Deterministic pseudo-random floats with no short decimal form (catches lossy round trips). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296 - 0.5;
  };
}

export interface FixtureOptions {
  items?: number;
  customers?: number;
  k?: number;
  /** Number written into the first element of the item-side arrays. */
  tag?: number;
  createdAt?: string;
}

export function fixtureCustomer(id: string, k: number, n: number, rand: () => number, items: number): CustomerRecord {
  const its = new Int32Array(n);
  for (let j = 0; j < n; j++) its[j] = (Math.abs(Math.floor(rand() * 1e6)) + j) % items;
  return {
    customerId: id,
    vector: k > 0 ? Float32Array.from({ length: k }, () => rand()) : null,
    segment: n % 3 === 0 ? 'vip' : n % 3 === 1 ? null : 'repeat',
    items: its,
    counts: Float32Array.from({ length: n }, (_, j) => j + 1),
    lastTime: Float64Array.from({ length: n }, (_, j) => 1_700_000_000_123.5 + j * 86_400_000),
    intervalDays: Float32Array.from({ length: n }, (_, j) => (j === 0 ? NaN : 10 / 3 + j)),
  };
}

export function fixtureBundle(version: string, options: FixtureOptions = {}): ModelBundle {
  const { items: ni = 20, customers: nc = 12, k = 4, tag = 1, createdAt = '2026-11-23T10:00:00.000Z' } = options;
  const rand = rng(tag * 7919 + ni);
  const itemFactors = Float32Array.from({ length: ni * k }, () => rand());
  itemFactors[0] = tag;
  const topK = (per: number) => {
    const indptr = new Int32Array(ni + 1);
    const indices: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < ni; i++) {
      for (let j = 1; j <= per; j++) {
        indices.push((i + j) % ni);
        scores.push(1 / (j + 2) + rand() * 1e-3);
      }
      indptr[i + 1] = indices.length;
    }
    const s = Float32Array.from(scores);
    s[0] = tag;
    return { indptr, indices: Int32Array.from(indices), scores: s };
  };
  const ranked = (n: number) => ({
    items: Int32Array.from({ length: n }, (_, i) => i % ni),
    scores: Float32Array.from({ length: n }, (_, i) => (i === 0 ? tag : 1 / (i + 3))),
  });
  return {
    manifest: {
      version,
      createdAt,
      data: { source: 'fixture', from: null, to: null, customers: nc, items: ni, lines: nc * 3, orders: nc },
      params: { als: { k } },
      metrics: {},
      timings: {},
      files: {},
    },
    items: Array.from({ length: ni }, (_, i) => `SKU-${i}`),
    itemCategories: Array.from({ length: ni }, (_, i) => (i % 4 === 0 ? null : `cat${i % 3}`)),
    als: k > 0 ? { k, reg: 0.1, alpha: 2, itemFactors } : null,
    neighbours: topK(3),
    fbt: topK(2),
    popular: {
      global: ranked(Math.min(ni, 10)),
      trending: ranked(5),
      byStore: { s1: ranked(3), 'store two': ranked(4) },
      bySegment: { vip: ranked(2), new: ranked(3) },
    },
    blend: { repeat: 0.4, als: 0.6 },
    customers: Array.from({ length: nc }, (_, c) => fixtureCustomer(`cust-${c}`, k, c % 5, rand, ni)),
  };
}

/** Hex of an array's bytes: equal strings mean bit-for-bit equal arrays (NaN included). */
export const bits = (a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number } | null) =>
  a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex') : null;
