/**
 * Pure parts of the cache: key layout, binary codecs, item-side blobs, LRU.
 */
import { describe, expect, it } from 'vitest';
import { decodeCustomer, encodeCustomer, packArrays, unpackArrays } from '../src/cache/codec.js';
import { decodeItemSide, encodeItemSide } from '../src/cache/item-side.js';
import { cacheKeys, versionOfKey } from '../src/cache/keys.js';
import { Lru } from '../src/cache/lru.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { redactUrl } from '../src/cache/redis-cache.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { bits, fixtureBundle } from './helpers/cache-bundle.js';

describe('key layout', () => {
  const k = cacheKeys('omnirec');
  it('puts the version in every key, with one hash tag for the item side and none for customers', () => {
    expect([k.current, k.versions, k.announce]).toEqual(['omnirec:current', 'omnirec:versions', 'omnirec:announce']);
    expect(k.blob('2026-11-23', 'items')).toBe('omnirec:{v:2026-11-23}:items');
    expect(k.complete('v1')).toBe('omnirec:{v:v1}:complete');
    expect(k.customer('v1', 'c:42')).toBe('omnirec:v:v1:customer:c:42');
    expect(k.versionPatterns('v1')).toEqual(['omnirec:{v:v1}:*', 'omnirec:v:v1:customer:*']);
  });
  it('tells the version of a key, and refuses versions that could break the layout', () => {
    expect(versionOfKey('omnirec:{v:v1.2_x-y}:meta')).toBe('v1.2_x-y');
    expect(versionOfKey('omnirec:v:v7:customer:{weird}:v:v9:customer:')).toBe('v7');
    expect(versionOfKey('omnirec:current')).toBeNull();
    expect(() => k.blob('a}b', 'meta')).toThrow(InvalidArgumentError);
    expect(() => k.customer('v:1', 'x')).toThrow(InvalidArgumentError);
  });
});

describe('customer record codec', () => {
  const b = fixtureBundle('v1', { customers: 6 });
  it('round-trips every field bit for bit (NaN intervals, no vector, no segment, no items)', () => {
    for (const c of b.customers) {
      const back = decodeCustomer(c.customerId, encodeCustomer(c));
      expect(back.customerId).toBe(c.customerId);
      expect(back.segment).toBe(c.segment);
      for (const f of ['vector', 'items', 'counts', 'lastTime', 'intervalDays'] as const) expect(bits(back[f])).toBe(bits(c[f]));
    }
    const none = { ...b.customers[0], vector: null, segment: null };
    expect(decodeCustomer('x', encodeCustomer(none)).vector).toBeNull();
    // 16-byte header + 20 bytes per item + 4 per factor
    expect(encodeCustomer(b.customers[4]).length).toBe(16 + 20 * 4 + 4 * 4);
  });
  it('decodes from an unaligned buffer and rejects foreign or truncated values', () => {
    const enc = encodeCustomer(b.customers[3]);
    const shifted = Buffer.concat([Buffer.from([1]), enc]).subarray(1);
    expect(bits(decodeCustomer('c', shifted).lastTime)).toBe(bits(b.customers[3].lastTime));
    expect(() => decodeCustomer('c', enc.subarray(0, enc.length - 4))).toThrow(/truncated/);
    expect(() => decodeCustomer('c', Buffer.from('not a record at all'))).toThrow(InvalidArgumentError);
    expect(() => encodeCustomer({ ...b.customers[3], counts: new Float32Array(0) })).toThrow(/differ in length/);
  });
});

describe('packed arrays and item-side blobs', () => {
  it('packs arrays at 8-byte aligned offsets and reads them back from aligned and unaligned buffers', () => {
    const arrays = { a: Float64Array.from([Math.PI, -0]), b: Int32Array.from([1, -2, 3]), c: Uint8Array.from([9]), d: Float32Array.from([NaN, 1e-40]) };
    const packed = packArrays({ hello: 'world' }, arrays);
    for (const buf of [packed, Buffer.concat([Buffer.alloc(3), packed]).subarray(3)]) {
      const { header, arrays: back } = unpackArrays(buf);
      expect(header).toEqual({ hello: 'world' });
      for (const [name, a] of Object.entries(arrays)) expect(bits(back[name])).toBe(bits(a));
    }
    expect(() => unpackArrays(Buffer.from('nope nope'))).toThrow(InvalidArgumentError);
  });
  it('rebuilds the item side and refuses a blob that fails its checksum', () => {
    const b = fixtureBundle('v5', { tag: 5 });
    const blobs = encodeItemSide(b, 'v5');
    const m = decodeItemSide(blobs);
    expect(m.version).toBe('v5');
    expect(bits(m.fbt.scores)).toBe(bits(b.fbt.scores));
    expect(m.popular.byStore['store two'].items).toEqual(b.popular.byStore['store two'].items);
    const tampered = Buffer.from(blobs.neighbours);
    tampered[tampered.length - 1] ^= 1;
    expect(() => decodeItemSide({ ...blobs, neighbours: tampered })).toThrow(/neighbours fails its checksum/);
    expect(() => decodeItemSide({ ...blobs, fbt: null })).toThrow(/fbt is missing/);
  });
  it('carries per-channel popular lists; a version published without them loads with none (serving falls back to global)', () => {
    const b = fixtureBundle('v7', { tag: 7 });
    const app = { items: Int32Array.from([3, 1]), scores: Float32Array.from([1 / 3, 0.25]) };
    const withChannels = decodeItemSide(encodeItemSide({ ...b, popular: { ...b.popular, byChannel: { app } } }, 'v7'));
    expect(Object.keys(withChannels.popular.byChannel!)).toEqual(['app']);
    expect(Array.from(withChannels.popular.byChannel!.app!.items)).toEqual([3, 1]);
    expect(bits(withChannels.popular.byChannel!.app!.scores)).toBe(bits(app.scores));
    const old = encodeItemSide(b, 'v7');
    // the meta of a bundle without channel lists is what it was before they existed (same digest on re-publish)
    expect(Object.keys(JSON.parse(old.meta.toString('utf8')).popular)).toEqual(['stores', 'segments']);
    expect(decodeItemSide(old).popular.byChannel).toBeUndefined();
  });
  it('handles a bundle without ALS', () => {
    const b = { ...fixtureBundle('v6'), als: null };
    expect(decodeItemSide(encodeItemSide(b, 'v6')).als).toBeNull();
  });
});

describe('LRU', () => {
  it('evicts the least recently used entry and tells a stored null from a miss', () => {
    const lru = new Lru<string, number | null>(2);
    lru.set('a', 1);
    lru.set('b', null);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('c', 3); // evicts b
    expect(lru.find('b')).toBeUndefined();
    expect(lru.find('a')?.value).toBe(1);
    lru.set('d', null); // evicts c
    expect(lru.find('d')).toMatchObject({ value: null });
    expect(lru.has('c')).toBe(false);
    expect(lru.size).toBe(2);
    const off = new Lru<string, number>(0);
    off.set('a', 1);
    expect(off.size).toBe(0);
  });
  it('expires entries older than maxAgeMs', async () => {
    const lru = new Lru<string, number>(10, 30);
    lru.set('a', 1);
    expect(lru.get('a')).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(lru.get('a')).toBeUndefined();
  });
});

describe('staticModelSource and helpers', () => {
  it('serves one bundle: customers by id, overwrites and erasure', async () => {
    const b = fixtureBundle('v1');
    const src = staticModelSource(b);
    const m = src.current()!;
    expect(m.itemIndex.get('SKU-3')).toBe(3);
    expect((await src.customer('cust-2', m))?.items).toBe(b.customers[2].items);
    await src.putCustomer('cust-2', null, m);
    expect(await src.customer('cust-2', m)).toBeNull();
    expect(src.status()).toMatchObject({ cache: 'ok', version: 'v1' });
  });
  it('redacts passwords from Redis URLs', () => {
    expect(redactUrl('redis://user:secret@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redactUrl('rediss://:secret@host')).toBe('rediss://:***@host');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
