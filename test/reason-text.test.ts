/**
 * A next-best-offer reason's JSON kept per decision memo and offer (src/serve/reason-text.ts): whatever the reasons a
 * memo's texts are asked for, in whatever order, each text is byte for byte JSON.stringify(reason) — the kept text
 * used only when every key and value walks the same (the sample written in place); crafted reasons that differ from a
 * kept one in one value, one key, its order, an array's length, a value's type; what the walk does not cover (written
 * by JSON.stringify); real decisions of a memo (the same customer decided again and again).
 */
import { describe, expect, it } from 'vitest';
import { decide } from '../src/core/offers/decide.js';
import type { DecisionMemo } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import { reasonJson, reasonTextCounts, type ReasonTexts } from '../src/serve/reason-text.js';
import { benchOffers } from '../scripts/bench-kit.js';
import { benchStats, benchSubjects } from '../scripts/bench-decide.js';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const text = (kept: ReasonTexts, id: string, r: unknown) => reasonJson(kept, id, r) ?? JSON.stringify(r);

const base = () => ({
  type: 'affinity',
  details: [{ type: 'affinity', affinity: 0.75, category: 'Cand"les\n\u2028', sku: 'S-1' }, { type: 'exploration' }],
  parts: { propensity: 0.012892654954239274, value: 33.97, weight: 1.73, prior: 0.026250000000000002, posteriorMean: 0.026250000000000002, affinityLift: 1.2, sample: 0.0173 },
});

describe('reason texts kept per memo and offer', () => {
  it('are JSON.stringify of each reason, the kept text used only when it walks the same', () => {
    const kept: ReasonTexts = new Map();
    const variants: ((r: ReturnType<typeof base>) => unknown)[] = [
      (r) => r,
      (r) => ({ ...r, parts: { ...r.parts, sample: 0.5 } }),
      (r) => ({ ...r, parts: { ...r.parts, sample: Number.NaN } }),
      (r) => ({ ...r, parts: { ...r.parts, sample: -0 } }),
      (r) => ({ ...r, parts: { ...r.parts, sample: '0.5' } }),
      (r) => ({ ...r, more: { sample: 1 } }),
      (r) => ({ ...r, more: { sample: 2 } }),
      (r) => ({ ...r, parts: { ...r.parts, prior: 0.02625 } }),
      (r) => ({ ...r, parts: { ...r.parts, posteriorMean: -0 } }),
      (r) => ({ ...r, parts: { ...r.parts, posteriorMean: 0 } }),
      (r) => ({ ...r, parts: { ...r.parts, weight: Number.POSITIVE_INFINITY } }),
      (r) => ({ ...r, parts: { ...r.parts, weight: '1.73' } }),
      (r) => ({ ...r, parts: { value: r.parts.value, propensity: r.parts.propensity, weight: 1.73, prior: r.parts.prior, posteriorMean: r.parts.posteriorMean, affinityLift: 1.2, sample: 0.0173 } }),
      (r) => ({ type: r.type, details: r.details, parts: { propensity: r.parts.propensity, value: r.parts.value, weight: 1.73, prior: r.parts.prior, posteriorMean: r.parts.posteriorMean, affinityLift: 1.2 } }),
      (r) => ({ type: r.type, details: r.details, parts: { ...r.parts, sample: undefined } }),
      (r) => ({ ...r, parts: { ...r.parts, extra: 1 } }),
      (r) => ({ ...r, details: r.details.slice(0, 1) }),
      (r) => ({ ...r, details: [...r.details, { type: 'exploration' }] }),
      (r) => ({ ...r, details: [{ ...r.details[0], sku: undefined }, r.details[1]] }),
      (r) => ({ ...r, details: [{ ...r.details[0], sku: 'S-2' }, r.details[1]] }),
      (r) => ({ ...r, details: [{ ...r.details[0], affinity: 0.7500000000000001 }, r.details[1]] }),
      (r) => ({ ...r, details: [{ type: 'affinity', category: 'Cand"les\n\u2028', affinity: 0.75, sku: 'S-1' }, r.details[1]] }),
      (r) => ({ ...r, details: [r.details[0], { type: 'exploration', sample: 3 }] }),
      (r) => ({ ...r, details: [r.details[0], { type: 'exploration', n: null }] }),
      (r) => ({ ...r, details: [r.details[0], { type: 'exploration', n: true }] }),
      (r) => ({ ...r, details: [r.details[0], { type: 'exploration', n: { deep: 1 } }] }),
      (r) => ({ ...r, details: [r.details[0], { type: 'exploration', n: [1] }] }),
      (r) => ({ ...r, details: [r.details[0], { type: 'exploration', n: new Date(NOW) }] }),
      (r) => ({ ...r, details: [r.details[0], { type: 'exploration', toJSON: () => 'x' }] }),
      (r) => ({ ...r, details: [r.details[0], , r.details[1]] }),
      (r) => ({ ...r, details: [] }),
      (r) => ({ ...r, details: {} }),
      (r) => ({ ...r, type: 'vip' }),
      (r) => ({ ...r, type: undefined }),
      (r) => ({ ...r, type: () => 1 }),
      (r) => ({ ...r, 1: 'x', 0: 'y' }),
      (r) => ({ parts: r.parts, type: r.type, details: r.details }),
      (r) => ({ type: r.type, details: r.details }),
      (r) => ({ ...r, parts: { ...r.parts, toJSON: () => ({ replaced: true }) } }),
      (r) => Object.assign(Object.create({ inherited: 1 }), r),
      (r) => ({ ...r, get type() { return 'getter'; } }),
      (r) => ({ ...r, parts: { ...r.parts, '"quoted"\u0000': 1 } }),
      () => null,
      () => 'text',
      () => 12,
      () => [],
    ];
    const random = mulberry32(5);
    let used = 0;
    // every variant after every other, several times, under two offer ids (each keeps a few texts)
    for (let n = 0; n < 6 * variants.length; n++) {
      const v = variants[Math.floor(random() * variants.length)];
      const r = v(base());
      const id = random() < 0.5 ? 'a' : 'b';
      const before = kept.get(id)?.map((t) => t.head);
      const t = text(kept, id, r);
      expect(t).toBe(JSON.stringify(r));
      if (before !== undefined && kept.get(id)!.every((k, i) => k.head === before[i])) used++;
    }
    for (const v of variants) for (const id of ['a', 'b', 'c']) expect(text(kept, id, v(base()))).toBe(JSON.stringify(v(base())));
    // (kept texts were used)
    expect(used).toBeGreaterThan(10);
  });

  it('are bounded per offer and per memo', () => {
    const kept: ReasonTexts = new Map();
    for (let i = 0; i < 20; i++) text(kept, 'a', { ...base(), type: `t${i}` });
    expect(kept.get('a')!.length).toBeLessThanOrEqual(4);
    for (let i = 0; i < 200; i++) text(kept, `o${i}`, base());
    expect(kept.size).toBeLessThanOrEqual(64);
  });

  it('real decisions, each customer decided again and again with their memo: the same bytes', () => {
    const offers = prepareOffers(benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), NOW));
    const stats = benchStats(offers);
    const random = mulberry32(3);
    const subjects = benchSubjects(30);
    const memos = subjects.map(() => ({}) as DecisionMemo);
    const texts = subjects.map(() => new Map() as ReasonTexts);
    let shown = 0;
    const kept0 = reasonTextCounts.kept;
    for (let round = 0; round < 40; round++) {
      for (const [i, subject] of subjects.entries()) {
        const d = decide(offers, subject, { channel: 'web', store: null, now: NOW, limit: 1 + (i % 4), inStock: () => true, contacts: () => undefined, acceptances: () => 0, channelConsent: { email: 'email', push: 'push' }, holdoutShare: 0.2, random, memo: memos[i] }, stats);
        for (const o of d.offers) {
          expect(text(texts[i], o.offerId, o.reason)).toBe(JSON.stringify(o.reason));
          shown++;
        }
      }
    }
    expect(shown).toBeGreaterThan(2000);
    // most answers from kept texts (the sample written in place)
    console.log('kept', reasonTextCounts.kept - kept0, 'of', shown);
    expect(reasonTextCounts.kept - kept0).toBeGreaterThan(shown / 2);
  });
});
