/**
 * The offer half of the history-store contract (OfferStore in src/store/store.ts), run against every
 * backend available (test/helpers/backends.ts): offers, the decision log, offer events (idempotence,
 * conflicts) and the counters derived from them, the facts a decision reads about a customer (merges
 * followed), erasure.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseOffer } from '../src/core/offer-schema.js';
import type { Offer } from '../src/core/offers/types.js';
import type { Identifier } from '../src/core/records.js';
import type { DecisionLogEntry, DecisionToLog, OfferEventInput, Store } from '../src/store/store.js';
import { prepareDecision } from '../src/store/sql-offers.js';
import { storeBackends, type OpenedStore } from './helpers/backends.js';
import { decide, traceOf } from '../src/core/offers/decide.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import { context as testContext, offer as testOffer, stats as testStats, subject as testSubject } from './helpers/offers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 10);
const email = (value: string): Identifier => ({ kind: 'email', value });

function offer(id: string, extra: Record<string, unknown> = {}): Offer {
  const r = parseOffer({ id, title: `Offer ${id}`, kind: 'percent_off', value: 10, ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.offer;
}

function event(eventId: string, customerId: string, o: Partial<OfferEventInput> = {}): OfferEventInput {
  const e = { eventId, decisionId: null, offerId: 'A', customerId, channel: 'web' as const, type: 'impression' as const, time: T0, segment: 'repeat' as const, ...o };
  return { ...e, content: o.content ?? JSON.stringify([e.offerId, e.customerId, e.channel, e.type, e.time]) };
}

for (const backend of storeBackends()) {
  describe(`offer store contract: ${backend.name}`, () => {
    let opened: OpenedStore;
    let store: Store;
    beforeEach(async () => {
      opened = await backend.open();
      store = opened.store;
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    it('offers: put creates then replaces by id, get and list return the normalised document, delete removes', async () => {
      expect(await store.offers()).toEqual([]);
      const a = offer('A', { eligibility: { segments: ['vip'] }, endsAt: '2026-02-01T00:00:00+01:00' });
      expect(await store.putOffers([a, offer('B')])).toEqual({ created: 2, updated: 0 });
      expect(await store.offer('A')).toEqual(a);
      expect(a.endsAt).toBe('2026-01-31T23:00:00.000Z');
      expect(a.eligibility).toEqual({ segments: ['vip'], minOrders: null, maxOrders: null, minSpend: null, minDaysSinceLastPurchase: null, newCustomersOnly: null });
      const a2 = offer('A', { title: 'changed', weight: 2 });
      expect(await store.putOffers([a2])).toEqual({ created: 0, updated: 1 });
      expect((await store.offers()).map((o) => [o.id, o.title, o.weight])).toEqual([
        ['A', 'changed', 2],
        ['B', 'Offer B', 1],
      ]);
      expect(await store.deleteOffer('A')).toBe(true);
      expect(await store.deleteOffer('A')).toBe(false);
      expect(await store.offer('A')).toBeNull();
      // several with one id in a batch: the last wins
      expect(await store.putOffers([offer('C', { value: 1 }), offer('C', { value: 2 })])).toEqual({ created: 1, updated: 0 });
      expect((await store.offer('C'))!.value).toBe(2);
    });

    it('decision log: written in batches, idempotent by decision id, read back in time order', async () => {
      const c = await store.resolveIdentity([email('d@x')]);
      const entry = (id: string, time: number, customerId: string | null): DecisionLogEntry => ({
        decisionId: id,
        time,
        customerId,
        context: { channel: 'web', store: null, limit: 1 },
        considered: [
          { offerId: 'A', outcome: 'shown' },
          { offerId: 'B', outcome: 'unsuitable', why: 'contact_cap' },
        ],
        shown: [{ offerId: 'A', position: 0, probability: 0.75, score: 3.2, propensity: 0.32 }],
        policy: { name: 'thompson', version: '1' },
        holdout: false,
      });
      await store.logDecisions([entry('d2', T0 + 1000, c), entry('d1', T0, null)]);
      await store.logDecisions([entry('d1', T0, null)]);
      const log = await store.decisionLog();
      expect(log.map((d) => d.decisionId)).toEqual(['d1', 'd2']);
      expect(log[1]).toEqual(entry('d2', T0 + 1000, c));
      expect((await store.decisionLog({ customerId: c })).map((d) => d.decisionId)).toEqual(['d2']);
      expect(await store.decisionLog({ customerId: 'nope' })).toEqual([]);
      expect((await store.decisionLog({ from: new Date(T0 + 1) })).map((d) => d.decisionId)).toEqual(['d2']);
    });

    it('decision log: a decision logged as decide traced it (compact, over its offer set stored once) reads back written out', async () => {
      const offers = prepareOffers(
        Array.from({ length: 12 }, (_, i) =>
          testOffer(`o${i}`, { value: 5 + i, targets: { skus: [`s${i % 4}`], categories: [] }, eligibility: i % 5 === 0 ? { segments: ['vip'] } : {}, channels: i % 6 === 1 ? ['email'] : [] }),
        ),
      );
      const logged: DecisionLogEntry[] = [];
      for (let k = 0; k < 4; k++) {
        const d = decide(offers, testSubject(), testContext({ limit: 2, holdoutShare: k === 3 ? 1 : 0 }, k + 1), testStats());
        const entry: DecisionLogEntry = {
          decisionId: `t${k}`,
          time: T0 + k,
          customerId: null,
          context: { channel: 'web' },
          considered: d.considered,
          shown: d.offers.map((o, position) => ({ offerId: o.offerId, position, probability: o.probability, score: o.score, propensity: o.propensity })),
          policy: { name: 'thompson', version: '1' },
          holdout: d.holdout,
        };
        logged.push(entry);
        await store.logDecisions([{ ...entry, considered: traceOf(d)! }]);
      }
      const back = await store.decisionLog();
      expect(back).toEqual(logged);
      expect(back.flatMap((d) => d.considered.map((c) => c.why ?? c.outcome))).toEqual(
        expect.arrayContaining(['segment', 'channel:web', 'holdout_draw', expect.stringMatching(/^same_target_as:o/), expect.stringMatching(/^score /)]),
      );
    });

    it('decision log: probabilities left out of a traced decision are computed on reading, equal to what decide gives inline', async () => {
      const offers = prepareOffers(
        Array.from({ length: 16 }, (_, i) =>
          testOffer(`q${i}`, { value: 5 + i, targets: i % 3 === 0 ? { skus: [], categories: [`c${i % 2}`] } : { skus: [`s${i % 5}`], categories: [] } }),
        ),
      );
      const inline: number[][] = [];
      for (let k = 0; k < 6; k++) {
        const d = decide(offers, testSubject(), testContext({ limit: 1 + (k % 3), holdoutShare: k < 3 ? 0.05 : 0.5 }, 40 + k), testStats());
        await store.logDecisions([
          {
            decisionId: `p${k}`,
            time: T0 + k,
            customerId: null,
            context: { channel: 'web' },
            considered: traceOf(d)!,
            shown: d.offers.map((o, position) => ({ offerId: o.offerId, position, score: o.score, propensity: o.propensity })),
            policy: { name: 'thompson', version: '1' },
            holdout: d.holdout,
          },
        ]);
        inline.push(d.offers.map((o) => o.probability));
      }
      const back = (await store.decisionLog()).filter((e) => e.decisionId.startsWith('p'));
      expect(back.map((e) => e.shown.map((s) => s.probability))).toEqual(inline);
      expect(inline.flat().every((p) => p > 0 && p <= 1)).toBe(true);
    });

    it('decision log: decisions prepared as they are queued (prepareDecision) read back as the same decisions logged as they are, mixed in one batch', async () => {
      const c = await store.resolveIdentity([email('prep@x')]);
      const offers = prepareOffers(
        Array.from({ length: 10 }, (_, i) => testOffer(`r${i}`, { value: 3 + i, targets: { skus: [`s${i % 3}`], categories: i % 4 === 0 ? ['c"1\\'] : [] } })),
      );
      const raw: DecisionToLog[] = [];
      for (let k = 0; k < 6; k++) {
        const d = decide(offers, testSubject(), testContext({ limit: 1 + (k % 3), holdoutShare: k === 5 ? 1 : 0.05 }, 70 + k), testStats());
        raw.push({
          decisionId: `r${k}`,
          time: T0 + k,
          customerId: k % 2 === 0 ? c : null,
          // texts JSON and SQL quote differently: quotes, backslashes, a tab, non-Latin letters, an emoji
          context: { channel: 'web', store: k === 1 ? `S'1"\\\t` : null, items: ['é', 'Ω💡', 'a\\b'], limit: 1 + (k % 3) },
          considered: k === 4 ? d.considered : traceOf(d)!,
          shown: d.offers.map((o, position) => ({ offerId: o.offerId, position, score: o.score, propensity: o.propensity, ...(k === 4 ? { probability: o.probability } : {}) })),
          policy: { name: 'thompson', version: '1' },
          holdout: d.holdout,
        });
      }
      // the same decisions twice: once as they are, once prepared (other ids), in one batch; then again (idempotent)
      const prepared = raw.map((e) => prepareDecision({ ...e, decisionId: `p-${e.decisionId}` }));
      await store.logDecisions([...raw.slice(0, 3), ...prepared, ...raw.slice(3)]);
      await store.logDecisions(prepared.slice(0, 2));
      const back = await store.decisionLog();
      expect(back).toHaveLength(12);
      const byId = new Map(back.map((e) => [e.decisionId, e]));
      for (const e of raw) {
        const a = byId.get(e.decisionId)!;
        const b = byId.get(`p-${e.decisionId}`)!;
        expect({ ...b, decisionId: a.decisionId }).toEqual(a);
        expect(a.context).toEqual(e.context);
        expect(a.customerId).toBe(e.customerId);
        expect(a.shown.every((s) => s.probability > 0 && s.probability <= 1)).toBe(true);
      }
    });

    it('decision log: ids and texts of every kind (tab, newline, backslash, \\N), times to the microsecond; a batch retried with new decisions among logged ones writes each once', async () => {
      const c = await store.resolveIdentity([email('copy@x')]);
      const entry = (id: string, time: number, customerId: string | null, extra = ''): DecisionLogEntry => ({
        decisionId: id,
        time,
        customerId,
        context: { channel: 'web', store: `S\t1\n\\N\\.\r${extra}`, items: ['\\', '\u0000', '\u2028', 'é'] },
        considered: [{ offerId: 'A\tB', outcome: 'shown' }],
        shown: [{ offerId: 'A\tB', position: 0, probability: 0.5, score: 1.25, propensity: 0.125 }],
        policy: { name: 'p\\1', version: '1\n2' },
        holdout: false,
      });
      const a = entry('a\tb\\c\nd', T0 + 0.25, c);
      const b = entry('\\N', T0 + 1, null);
      await store.logDecisions([a, b]);
      // a retried batch: the logged ones again (another content: the first write wins) beside new ones
      const d = entry('d', T0 + 2, c);
      await store.logDecisions([entry('\\N', T0 + 1, null, 'again'), d, a]);
      await store.logDecisions([entry('e', T0 + 3, null), entry('e', T0 + 3, null)]);
      const back = await store.decisionLog();
      expect(back.map((x) => x.decisionId)).toEqual(['a\tb\\c\nd', '\\N', 'd', 'e']);
      expect(back.slice(0, 3)).toEqual([a, b, d]);
      expect(back[0].time).toBe(T0 + 0.25);
    });

    it('events: recorded once by id; the same again is a duplicate, other content a conflict; counters follow the new ones only', async () => {
      const c = await store.resolveIdentity([email('e@x')]);
      const out = await store.recordOfferEvents([
        event('e1', c, { time: T0 }),
        event('e2', c, { time: T0 + DAY }),
        event('e3', c, { type: 'declined', time: T0 + 2 * DAY }),
        event('e4', c, { type: 'accepted', channel: 'store', time: T0 + 3 * DAY }),
        event('e1', c, { time: T0 }), // repeated within the batch: same content
        event('e2', c, { time: T0 + 5 }), // repeated within the batch: other content
      ]);
      expect(out).toEqual(['recorded', 'recorded', 'recorded', 'recorded', 'duplicate', 'conflict']);
      expect(await store.recordOfferEvents([event('e1', c, { time: T0 }), event('e3', c, { type: 'accepted', time: T0 + 2 * DAY })])).toEqual(['duplicate', 'conflict']);
      expect(Object.fromEntries(await store.offerCounts())).toEqual({ A: { impressions: 2, accepted: 1, declined: 1, ignored: 0, exposure: 2 } });
      expect(await store.offerResponseStats()).toEqual([
        { offerId: 'A', segment: 'repeat', channel: 'store', impressions: 0, accepted: 1, declined: 0, ignored: 0, exposure: 0 },
        { offerId: 'A', segment: 'repeat', channel: 'web', impressions: 2, accepted: 0, declined: 1, ignored: 0, exposure: 2 },
      ]);
      const facts = (await store.offerSubjectFacts(c))!;
      expect(facts.contacts.get('A')).toEqual({ impressions: [T0, T0 + DAY], lastDeclineAt: T0 + 2 * DAY });
    });

    it('events: an impression adds its exposure (affinity lift, default 1) to its cell and offer; other events add none; kept on the event', async () => {
      const c = await store.resolveIdentity([email('x@x')]);
      const out = await store.recordOfferEvents([
        event('x1', c, { offerId: 'B', exposure: 1.75 }),
        event('x2', c, { offerId: 'B', exposure: 0.25, time: T0 + 1 }),
        event('x3', c, { offerId: 'B', time: T0 + 2 }), // none given: 1
        event('x4', c, { offerId: 'B', type: 'accepted', exposure: 9, time: T0 + 3 }), // not an impression: adds none
        event('x5', c, { offerId: 'B', segment: 'vip', exposure: 0.5, time: T0 + 4 }),
      ]);
      expect(out).toEqual(['recorded', 'recorded', 'recorded', 'recorded', 'recorded']);
      // a duplicate adds nothing
      expect(await store.recordOfferEvents([event('x1', c, { offerId: 'B', exposure: 1.75 })])).toEqual(['duplicate']);
      expect((await store.offerCounts()).get('B')).toEqual({ impressions: 4, accepted: 1, declined: 0, ignored: 0, exposure: 3.5 });
      expect((await store.offerResponseStats()).filter((x) => x.offerId === 'B')).toEqual([
        { offerId: 'B', segment: 'repeat', channel: 'web', impressions: 3, accepted: 1, declined: 0, ignored: 0, exposure: 3 },
        { offerId: 'B', segment: 'vip', channel: 'web', impressions: 1, accepted: 0, declined: 0, ignored: 0, exposure: 0.5 },
      ]);
      const db = (store as unknown as { db: { query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }> } }).db;
      const kept = await db.query<{ event_id: string; exposure: number | null }>("SELECT event_id, exposure FROM offer_events WHERE offer_id = 'B' ORDER BY event_id");
      expect(kept.rows).toEqual([
        { event_id: 'x1', exposure: 1.75 },
        { event_id: 'x2', exposure: 0.25 },
        { event_id: 'x3', exposure: 1 },
        { event_id: 'x4', exposure: null },
        { event_id: 'x5', exposure: 0.5 },
      ]);
    });

    it('subject facts: consent in force per purpose, orders, spend, last order; contacts of merged-away ids count for the survivor', async () => {
      await store.importLines([
        { orderId: 'O1', channel: 'web', storeId: null, time: T0, identifiers: [email('a@x')], sku: 'X', title: null, category: null, quantity: 2, unitPrice: 5, cancels: null, lineNo: 1 },
        { orderId: 'O2', channel: 'web', storeId: null, time: T0 + DAY, identifiers: [email('b@x')], sku: 'Y', title: null, category: null, quantity: 1, unitPrice: 3, cancels: null, lineNo: 1 },
      ]);
      const a = (await store.findCustomer(email('a@x')))!;
      const b = (await store.findCustomer(email('b@x')))!;
      await store.setConsent(a, 'email', true, 't', new Date(T0));
      await store.setConsent(a, 'email', false, 't', new Date(T0 + DAY));
      await store.setConsent(a, 'personalisation', true, 't', new Date(T0));
      await store.recordOfferEvents([event('x1', a, { time: T0 }), event('x2', b, { time: T0 + DAY }), event('x3', b, { type: 'declined', offerId: 'B', time: T0 + DAY })]);
      await store.resolveIdentity([email('a@x'), email('b@x')]); // b merges into a
      const facts = (await store.offerSubjectFacts(b))!;
      expect(facts.customerId).toBe(a);
      expect(facts.consent).toEqual({ email: false, personalisation: true, sms: false, push: false }); // unrecorded: CONSENT_DEFAULTS (none: refused)
      expect(facts.orders).toBe(2);
      expect(facts.spend).toBe(13);
      expect(facts.lastOrderAt).toBe(T0 + DAY);
      expect(facts.segment).toBeNull();
      expect(Object.fromEntries(facts.contacts)).toEqual({
        A: { impressions: [T0, T0 + DAY], lastDeclineAt: null },
        B: { impressions: [], lastDeclineAt: T0 + DAY },
      });
      expect(await store.offerSubjectFacts('999999')).toBeNull();
      expect(await store.offerSubjectFacts('not-an-id')).toBeNull();
    });

    it('impressions older than a year are dropped from the counters', async () => {
      const c = await store.resolveIdentity([email('old@x')]);
      const now = Date.now();
      await store.recordOfferEvents([event('o1', c, { time: now - 400 * DAY }), event('o2', c, { time: now - DAY })]);
      expect((await store.offerSubjectFacts(c))!.contacts.get('A')!.impressions).toEqual([now - DAY]);
    });

    it('erasure removes the contact counters, events and decisions (another customer\'s decision stays)', async () => {
      const c = await store.resolveIdentity([email('gone@x')]);
      await store.recordOfferEvents([event('g1', c)]);
      const other = await store.resolveIdentity([email('stays@x')]);
      const decision = (decisionId: string, customerId: string) => ({ decisionId, time: T0, customerId, context: {}, considered: [], shown: [], policy: { name: 'p', version: '1' }, holdout: false });
      await store.logDecisions([decision('g', c), decision('h', other)]);
      expect(await store.eraseCustomer(c)).toBe(true);
      expect((await store.decisionLog()).map((d) => [d.decisionId, d.customerId])).toEqual([['h', other]]);
      // the event id is free again: nothing of theirs is left
      const d = await store.resolveIdentity([email('new@x')]);
      expect(await store.recordOfferEvents([event('g1', d)])).toEqual(['recorded']);
    });
  });
}
