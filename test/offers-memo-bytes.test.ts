/**
 * What decision memos hold beyond the pool cache is bounded in bytes (decide.ts keptDrawsHeld): a kept basis's draws
 * are its offers' Thompson pools (2 KB each at 256 draws), which a memo keeps reachable after the pool cache and the
 * rows' samplings have moved on. Many memos, responses changing the counts (new pools): under a small budget the
 * bytes held stay within it (plus the newest basis's), the draws dropped are remade, and every decision is the
 * decision made with no budget at all; without the bound the same run holds several times the budget.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { decide, keptDrawsHeld, traceOf } from '../src/core/offers/decide.js';
import { stableAffinity } from '../src/core/offers/propensity.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import type { DecisionContext, DecisionSubject } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { benchOffers } from '../scripts/bench-kit.js';
import { benchStats, benchSubjects } from '../scripts/bench-decide.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const CONSENT: DecisionContext['channelConsent'] = { email: 'email', sms: 'sms', push: 'push' };
const offers = prepareOffers(benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), NOW));
const subjects: DecisionSubject[] = benchSubjects(120).map((s: DecisionSubject) => {
  const known = new Map<string, ReturnType<DecisionSubject['affinity']>>();
  const f = s.affinity;
  return {
    ...s,
    affinity: stableAffinity((o) => {
      let v = known.get(o.id);
      if (v === undefined) known.set(o.id, (v = f(o)));
      return v;
    }),
  };
});
const initial = keptDrawsHeld().budget;
afterAll(() => {
  keptDrawsHeld(initial);
});

/** `calls` decisions over 120 customers × 3 channels (a memo each), a response counted after every 3rd; each decision's answer and scores, and the most bytes held after a decision. */
function run(calls: number, budget: number): { out: string[]; most: number; dropped: number } {
  keptDrawsHeld(budget);
  const stats = benchStats(offers);
  const random = mulberry32(11);
  const learn = mulberry32(12);
  const memos = new Map<string, object>();
  const channels = ['web', 'app', 'store'] as const;
  const out: string[] = [];
  let most = 0;
  const drops = keptDrawsHeld().drops;
  for (let i = 0; i < calls; i++) {
    const s = i % subjects.length;
    const channel = channels[Math.floor(i / subjects.length) % 3];
    const key = `${s}|${channel}`;
    if (!memos.has(key)) memos.set(key, {});
    const subject = subjects[s];
    const ctx: DecisionContext = {
      channel, store: null, now: NOW + i * 1000, limit: 3, inStock: () => true, contacts: () => undefined,
      acceptances: (id) => stats.overall(id).accepted, channelConsent: CONSENT, holdoutShare: 0.05, random, memo: memos.get(key),
    };
    const d = decide(offers, subject, ctx, stats);
    out.push(JSON.stringify([d.offers.map((o) => [o.offerId, o.score, o.probability]), Array.from(traceOf(d)!.scores)]));
    most = Math.max(most, keptDrawsHeld().bytes);
    if (i % 3 === 0 && d.offers.length > 0) {
      const seg = subject.personalised && subject.segment ? subject.segment : 'guest';
      stats.record(d.offers[0].offerId, seg, channel, learn() < 0.3, 1);
    }
  }
  return { out, most, dropped: keptDrawsHeld().drops - drops };
}

describe('decision memos: the bytes their kept draws hold', () => {
  it('stay within the budget (plus one basis), drop and remake draws, and change no decision', () => {
    const calls = 2400;
    const free = run(calls, Infinity);
    const budget = 256 * 1024;
    // one basis at most: 200 offers' pools and its own arrays
    const oneBasis = 200 * (256 * 8 + 16) + 128;
    const bounded = run(calls, budget);
    expect(free.most).toBeGreaterThan(3 * budget);
    expect(bounded.most).toBeLessThanOrEqual(budget + oneBasis);
    expect(bounded.dropped).toBeGreaterThan(10);
    expect(bounded.out).toEqual(free.out);
    // a smaller budget set later drops the oldest at once
    keptDrawsHeld(Infinity);
    run(300, Infinity);
    expect(keptDrawsHeld(64 * 1024).bytes).toBeLessThanOrEqual(64 * 1024);
  });
});
