/**
 * OfferService's customer facts: served from memory for half their TTL, then served stale while a background refresh
 * runs, with at most `maxSubjectRefreshes` such refreshes at once (a cohort of customers passing half their TTL
 * together must not fill the store's pool ahead of the reads requests wait for); never used past the TTL. The store,
 * model source and access cache are stand-ins (the policy is the subject).
 */
import { describe, expect, it } from 'vitest';
import type { ModelSource } from '../src/cache/model-source.js';
import { decide } from '../src/core/offers/decide.js';
import { CustomerAccessCache } from '../src/serve/customer-access.js';
import type { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import { OfferService } from '../src/serve/offer-service.js';
import type { OfferSubjectFacts, Store } from '../src/store/store.js';
import { offer } from './helpers/offers.js';

const flush = () => new Promise((r) => setImmediate(r));

function world(maxSubjectRefreshes?: number) {
  let now = 1_000_000;
  const orders = new Map<string, number>();
  const reads: string[] = [];
  let gate: Promise<void> | null = null;
  const store = {
    offers: async () => [offer('o1', { value: 10 }), offer('o2', { value: 5, eligibility: { minOrders: 3 } })],
    offerCounts: async () => new Map(),
    offerResponseStats: async () => [],
    logDecisions: async () => {},
    customerAccess: async (id: string) => ({ canonicalId: id, personalisation: true }),
    canonicalCustomerId: async (id: string) => id,
    hasConsent: async () => true,
    async offerSubjectFacts(id: string): Promise<OfferSubjectFacts | null> {
      reads.push(id);
      if (gate) await gate;
      return { customerId: id, consent: { personalisation: true }, orders: orders.get(id) ?? 1, spend: 10, lastOrderAt: now - 86_400_000, segment: 'repeat', contacts: new Map() };
    },
  } as unknown as Store;
  const source = {
    current: () => null,
    customer: async () => null,
    onSwap: () => () => {},
    onCustomersChanged: () => () => {},
  } as unknown as ModelSource;
  const access = new CustomerAccessCache(store, { ttlMs: 3_600_000, maxEntries: 100 });
  const service = new OfferService({
    store,
    source,
    access,
    inventory: { inStock: () => undefined } as unknown as InventorySnapshot,
    decide,
    channelConsent: {},
    holdoutShare: 0,
    reloadMs: 0,
    subjectTtlMs: 30_000,
    maxSubjectRefreshes,
    now: () => now,
  });
  return {
    service,
    reads,
    orders,
    advance: (ms: number) => void (now += ms),
    hold: (p: Promise<void> | null) => void (gate = p),
  };
}

const ids = Array.from({ length: 6 }, (_, i) => String(i + 1));
const shown = async (w: ReturnType<typeof world>, id: string) => (await w.service.decideFor(id, { channel: 'web', limit: 2 })).offers.map((o) => o.offerId);

describe('OfferService: customer facts refreshed in the background, a bounded number at once', () => {
  it('a cohort past half its TTL: at most maxSubjectRefreshes reads in flight, the others served their facts and refreshed at their next decision; nothing used past the TTL', async () => {
    const w = world(2);
    for (const id of ids) expect(await shown(w, id)).toEqual(['o1']);
    expect(w.reads).toHaveLength(6);
    let open!: () => void;
    w.hold(new Promise<void>((r) => (open = r)));
    w.advance(20_000);
    for (const id of ids) w.orders.set(id, 5); // now eligible for o2 as well, once their facts are re-read
    for (const id of ids) expect(await shown(w, id)).toEqual(['o1']); // stale facts served at once
    expect(w.reads).toHaveLength(6 + 2);
    w.hold(null);
    open();
    await flush();
    await flush();
    expect(await shown(w, '1')).toEqual(['o1', 'o2']); // refreshed
    expect(await shown(w, '6')).toEqual(['o1']); // not refreshed yet: its refresh starts now
    await flush();
    await flush();
    expect(w.reads).toHaveLength(6 + 3);
    expect(await shown(w, '6')).toEqual(['o1', 'o2']);
    // past the TTL: read before deciding, whatever the bound
    w.advance(11_000);
    w.orders.set('5', 1);
    expect(await shown(w, '5')).toEqual(['o1']);
    await w.service.close();
  });

  it('without a bound every stale customer starts a read at once (what the bound prevents)', async () => {
    const w = world(Infinity);
    for (const id of ids) await shown(w, id);
    w.hold(new Promise<void>(() => {}));
    w.advance(20_000);
    for (const id of ids) await shown(w, id);
    expect(w.reads).toHaveLength(12);
  });
});
