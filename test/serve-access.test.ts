/**
 * The consent/merge answer cache: fresh for half the TTL, then served stale while one background
 * refresh runs, never used past the TTL; failures are not remembered; invalidation wins over a
 * refresh that was already running. The store here is a counting stand-in (the policy is the
 * subject; the real store's answers are covered by the HTTP suites).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CustomerAccessCache } from '../src/serve/customer-access.js';

function countingStore(answers: Record<string, { canonical: string | null; consent: boolean }>) {
  const calls = { canonical: 0, consent: 0 };
  let fail = false;
  let gate: Promise<void> | null = null;
  return {
    calls,
    failNext: (v: boolean) => void (fail = v),
    hold: (p: Promise<void> | null) => void (gate = p),
    set: (id: string, a: { canonical: string | null; consent: boolean }) => void (answers[id] = a),
    store: {
      async canonicalCustomerId(id: string) {
        calls.canonical++;
        if (gate) await gate;
        if (fail) throw new Error('ECONNREFUSED');
        return answers[id]?.canonical ?? null;
      },
      async hasConsent(id: string) {
        calls.consent++;
        return Object.values(answers).find((a) => a.canonical === id)?.consent ?? false;
      },
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('CustomerAccessCache', () => {
  let now = 1_000_000;
  vi.spyOn(Date, 'now').mockImplementation(() => now);
  afterEach(() => {
    now = 1_000_000;
  });

  it('fresh for ttl/2, stale-while-revalidate until ttl, then blocking', async () => {
    const s = countingStore({ a: { canonical: 'A', consent: true } });
    const cache = new CustomerAccessCache(s.store, { ttlMs: 30_000, maxEntries: 10 });
    expect(await cache.resolve('a')).toEqual({ status: 'ok', customerId: 'A' });
    now += 10_000;
    await cache.resolve('a');
    expect(s.calls.canonical).toBe(1); // fresh
    s.set('a', { canonical: 'A', consent: false });
    now += 10_000; // 20 s: stale, served at once, one refresh behind it
    expect(await cache.resolve('a')).toEqual({ status: 'ok', customerId: 'A' });
    expect(await cache.resolve('a')).toEqual({ status: 'ok', customerId: 'A' });
    await flush();
    expect(s.calls.canonical).toBe(2);
    expect(await cache.resolve('a')).toEqual({ status: 'no_consent', customerId: 'A' }); // refreshed at 20 s
    now += 31_000; // past the TTL of the refreshed answer: blocking read
    s.set('a', { canonical: 'A', consent: true });
    expect(await cache.resolve('a')).toEqual({ status: 'ok', customerId: 'A' });
    expect(s.calls.canonical).toBe(3);
  });

  it('never remembers a failure; an unknown id is remembered', async () => {
    const s = countingStore({});
    const cache = new CustomerAccessCache(s.store, { ttlMs: 30_000, maxEntries: 10 });
    s.failNext(true);
    expect(await cache.resolve('x')).toEqual({ status: 'store_unavailable' });
    s.failNext(false);
    expect(await cache.resolve('x')).toEqual({ status: 'unknown_customer' });
    expect(await cache.resolve('x')).toEqual({ status: 'unknown_customer' });
    expect(s.calls.canonical).toBe(2);
  });

  it('invalidation (erasure) wins over a refresh already in flight, by id or by survivor', async () => {
    const s = countingStore({ old: { canonical: 'S', consent: true } });
    const cache = new CustomerAccessCache(s.store, { ttlMs: 30_000, maxEntries: 10 });
    await cache.resolve('old');
    now += 20_000;
    let release!: () => void;
    s.hold(new Promise<void>((r) => (release = r)));
    expect((await cache.resolve('old')).status).toBe('ok'); // stale answer; refresh now waiting
    cache.invalidate('S'); // erasure of the survivor, while the refresh still reads the old state
    release();
    s.hold(null);
    await flush();
    await flush();
    s.set('old', { canonical: null, consent: false }); // the erasure is now visible in the store
    expect(await cache.resolve('old')).toEqual({ status: 'unknown_customer' });
  });

  it("invalidating one customer leaves other customers' reads in flight to be remembered", async () => {
    // a purchase event invalidates its buyer: reads of everyone else that were running meanwhile
    // still count (before, any invalidation threw away every read in flight, so under a steady
    // stream of events the cache hardly ever kept an answer and each list went to the store)
    const s = countingStore({ a: { canonical: 'A', consent: true }, b: { canonical: 'B', consent: true } });
    const cache = new CustomerAccessCache(s.store, { ttlMs: 30_000, maxEntries: 10 });
    let release!: () => void;
    s.hold(new Promise<void>((r) => (release = r)));
    const pa = cache.resolve('a');
    const pb = cache.resolve('b');
    cache.invalidate('B');
    release();
    s.hold(null);
    expect(await pa).toEqual({ status: 'ok', customerId: 'A' });
    expect(await pb).toEqual({ status: 'ok', customerId: 'B' }); // answered, not remembered
    await cache.resolve('a');
    expect(s.calls.canonical).toBe(2); // a remembered
    await cache.resolve('b');
    expect(s.calls.canonical).toBe(3); // b read again
    await cache.resolve('b');
    expect(s.calls.canonical).toBe(3); // and now remembered
  });

  it('invalidating a survivor drops the answers held under its merged ids; invalidating everyone drops all, reads in flight included', async () => {
    const s = countingStore({ old: { canonical: 'S', consent: true }, s: { canonical: 'S', consent: true }, x: { canonical: 'X', consent: true } });
    const cache = new CustomerAccessCache(s.store, { ttlMs: 30_000, maxEntries: 10 });
    await cache.resolve('old');
    await cache.resolve('s');
    await cache.resolve('x');
    cache.invalidate('S');
    s.set('old', { canonical: 'S', consent: false });
    expect(await cache.resolve('old')).toEqual({ status: 'no_consent', customerId: 'S' }); // read again
    await cache.resolve('x');
    expect(s.calls.canonical).toBe(4); // x untouched
    let release!: () => void;
    s.hold(new Promise<void>((r) => (release = r)));
    now += 31_000;
    const px = cache.resolve('x');
    cache.invalidate();
    release();
    s.hold(null);
    await px;
    await cache.resolve('x');
    expect(s.calls.canonical).toBe(6); // the read in flight during invalidate() was not remembered
  });

  it('keeps at most maxEntries answers', async () => {
    const s = countingStore({ a: { canonical: 'A', consent: true }, b: { canonical: 'B', consent: true }, c: { canonical: 'C', consent: true } });
    const cache = new CustomerAccessCache(s.store, { ttlMs: 30_000, maxEntries: 2 });
    await cache.resolve('a');
    await cache.resolve('b');
    await cache.resolve('c'); // evicts a
    await cache.resolve('b');
    await cache.resolve('a');
    expect(s.calls.canonical).toBe(4);
  });
});
