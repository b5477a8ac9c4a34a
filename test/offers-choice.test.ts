/**
 * The logged probability of a shown offer is computed off the request path from what the decision logs
 * (src/core/offers/choice.ts): the deferred computation equals the one made inline for the same inputs and seed, the
 * pruning of offers that cannot reach the top changes nothing, and the log's form round-trips exactly.
 */
import { describe, expect, it } from 'vitest';
import {
  type ChoiceInputs,
  type ChoiceOffer,
  choiceProbabilities,
  decodeChoice,
  encodeChoice,
  rankingContenders,
  type SamplingDistribution,
  samplingPool,
  suitableConflicts,
} from '../src/core/offers/choice.js';
import { decide, makeDecide, targetConflicts, traceOf } from '../src/core/offers/decide.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import type { Offer } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { SEGMENTS } from '../src/core/records.js';
import { context, offer, subject } from './helpers/offers.js';

/** Offers with overlapping sku and category targets, values and weights, some restricted to a segment or channel. */
function randomOffers(r: () => number, n: number): Offer[] {
  return Array.from({ length: n }, (_, i) =>
    offer(`o${i}`, {
      value: 1 + Math.floor(r() * 40),
      weight: 0.5 + r(),
      targets: r() < 0.2 ? { skus: [], categories: [] } : r() < 0.5 ? { skus: [`s${Math.floor(r() * 12)}`], categories: [] } : { skus: [], categories: [`c${Math.floor(r() * 5)}`] },
      channels: r() < 0.8 ? [] : ['email'],
      eligibility: r() < 0.2 ? { segments: ['vip'] } : {},
    }),
  );
}

/** Response counts with some history, so that the offers' posteriors differ. */
function randomStats(r: () => number, offers: readonly Offer[], events: number): ResponseCounts {
  const s = new ResponseCounts();
  for (let i = 0; i < events; i++) s.record(offers[Math.floor(r() * offers.length)].id, SEGMENTS[Math.floor(r() * SEGMENTS.length)], 'web', r() < 0.08);
  return s;
}

/** The inputs as the log reads them back: encoded, through JSON, decoded over the set's conflicts and the suitable offers. */
function throughTheLog(offers: readonly Offer[], d: ReturnType<typeof decide>): ChoiceInputs {
  const t = traceOf(d)!;
  const index: number[] = [];
  t.codes.forEach((c, i) => c === 0 && index.push(i));
  const stored = JSON.parse(JSON.stringify({ choice: encodeChoice(t.choice!), conflicts: t.setConflicts, vw: Array.from(t.setValueWeights!) })) as {
    choice: ReturnType<typeof encodeChoice>;
    conflicts: number[][];
    vw: number[];
  };
  expect(stored.conflicts).toEqual(targetConflicts(offers));
  expect(stored.vw).toEqual(offers.map((o) => o.value * o.weight));
  // decide keeps the log's numbers in single precision
  expect(stored.choice.f64).toBeUndefined();
  return decodeChoice(stored.choice, suitableConflicts(stored.conflicts, index, offers.length), index.map((i) => stored.vw[i]));
}

describe('choice probabilities computed when read', () => {
  it('equal what decide gives inline, for the same inputs and seed (limits 1–3, holdout shares 0–1, prepared and plain sets, both rankings)', () => {
    const r = mulberry32(2026);
    const mean = makeDecide({ ranking: 'mean' });
    let cases = 0;
    let pruned = 0;
    for (let round = 0; round < 30; round++) {
      const plain = randomOffers(r, 10 + Math.floor(r() * 40));
      const offers = round % 2 === 0 ? prepareOffers(structuredClone(plain)) : plain;
      const stats = randomStats(r, offers, Math.floor(r() * 4000));
      for (let k = 0; k < 8; k++) {
        const limit = 1 + (k % 3);
        const holdoutShare = [0, 0.05, 0.3, 1][k % 4];
        const seg = SEGMENTS[Math.floor(r() * SEGMENTS.length)];
        const s = subject({ segment: seg, affinity: (o) => (o.targets.skus.length ? { score: (o.id.length * 0.37 + k * 0.11) % 1, sku: o.targets.skus[0] } : null) });
        const seed = Math.floor(r() * 1e9);
        const d = (k === 7 ? mean : decide)(offers, s, context({ limit, holdoutShare }, seed), stats);
        if (d.offers.length === 0) continue;
        const inline = d.offers.map((o) => o.probability);
        for (const p of inline) {
          expect(p).toBeGreaterThan(0);
          expect(p).toBeLessThanOrEqual(1);
        }
        const inputs = throughTheLog(offers, d);
        expect(choiceProbabilities(inputs)).toEqual(inline);
        // and again from a second decoding (pools are pure functions of their distributions)
        expect(choiceProbabilities(throughTheLog(offers, d))).toEqual(inline);
        pruned += inputs.offers.filter((o) => o === null).length;
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(150);
    expect(pruned).toBeGreaterThan(0);
  });

  it('a decision made again from the same seed logs the same inputs (the probability does not depend on when it is read)', () => {
    const offers = prepareOffers(randomOffers(mulberry32(5), 30));
    const stats = randomStats(mulberry32(6), offers, 3000);
    const a = decide(offers, subject(), context({ limit: 3, holdoutShare: 0.05 }, 77), stats);
    const b = decide(offers, subject(), context({ limit: 3, holdoutShare: 0.05 }, 77), stats);
    // read b's probabilities first, then a's: same numbers
    const pb = b.offers.map((o) => o.probability);
    expect(a.offers.map((o) => o.probability)).toEqual(pb);
    expect(encodeChoice(traceOf(a)!.choice!)).toEqual(encodeChoice(traceOf(b)!.choice!));
  });

  it('pruning is exact: the offers left out could never reach the top, and leaving them out changes no probability', () => {
    const r = mulberry32(11);
    for (let round = 0; round < 40; round++) {
      const n = 5 + Math.floor(r() * 30);
      const offers: ChoiceOffer[] = Array.from({ length: n }, () => ({
        dist: { kind: 'beta', a: 0.5 + r() * 30, b: 5 + r() * 300 },
        lift: 0.3 + r() * 1.4,
        vw: 1 + r() * 50,
      }));
      const targets = Array.from({ length: n }, () => (r() < 0.5 ? [] : [`c${Math.floor(r() * 4)}`]));
      const conflicts = targetConflicts(targets.map((c, i) => offer(`x${i}`, { targets: { skus: [], categories: c } })));
      const limit = 1 + (round % 3);
      // the served draw: one element of each pool, greedy by priority
      const pools = offers.map((o) => samplingPool(o.dist, 256));
      const rr = mulberry32(round);
      const score = Float64Array.from(offers, (o, i) => Math.min(1, pools[i].draws[Math.floor(rr() * 256)] * o.lift) * o.vw);
      const shown: number[] = [];
      const blocked = new Set<number>();
      while (shown.length < limit) {
        let best = -1;
        for (let i = 0; i < n; i++) if (!blocked.has(i) && (best < 0 || score[i] > score[best])) best = i;
        if (best < 0) break;
        shown.push(best);
        blocked.add(best);
        for (const j of conflicts[best]) blocked.add(j);
      }
      const keep = new Set(rankingContenders(offers, pools, conflicts, limit, shown));
      const full: ChoiceInputs = {
        ranking: 'thompson', served: 'thompson', holdoutShare: round % 2 ? 0.1 : 0, limit, n, conflicts, shown, offers,
        seed: 1234 + round, draws: 300, poolSize: 256, uniformExactBudget: 20_000,
      };
      const prunedInputs = { ...full, offers: offers.map((o, i) => (keep.has(i) ? o : null)) };
      expect(choiceProbabilities(prunedInputs)).toEqual(choiceProbabilities(full));
      // a left-out offer's best possible priority is below what `limit` conflict-free offers surely reach
      for (let i = 0; i < n; i++) {
        if (keep.has(i)) continue;
        const best = Math.min(1, pools[i].max * offers[i].lift) * offers[i].vw;
        const floors = offers
          .map((o, j) => (conflicts[j].length === 0 ? Math.min(1, pools[j].min * o.lift) * o.vw : -Infinity))
          .sort((x, y) => y - x);
        expect(best).toBeLessThan(floors[limit - 1]);
      }
    }
  });

  it('sampling distributions are tagged records: a logit-normal one pools, logs and reads back like a Beta', () => {
    const dist: SamplingDistribution = { kind: 'logitnormal', mu: -2.5, sigma: 0.4 };
    const pool = samplingPool(dist, 256);
    expect(pool).toBe(samplingPool({ ...dist }, 256));
    const mean = pool.draws.reduce((x, y) => x + y, 0) / 256;
    expect(mean).toBeGreaterThan(0.05);
    expect(mean).toBeLessThan(0.12);
    expect(pool.min).toBe(Math.min(...pool.draws));
    expect(pool.max).toBe(Math.max(...pool.draws));
    const offers: ChoiceOffer[] = [
      { dist, lift: 1.2, vw: 10 },
      { dist: { kind: 'beta', a: 3, b: 40 }, lift: 1, vw: 12 },
      { dist: { kind: 'logitnormal', mu: -3, sigma: 0.8 }, lift: 0.9, vw: 30 },
    ];
    const conflicts = [[], [], []];
    const inputs: ChoiceInputs = {
      ranking: 'thompson', served: 'thompson', holdoutShare: 0.05, limit: 2, n: 3, conflicts, shown: [2, 0], offers,
      seed: 99, draws: 500, poolSize: 256, uniformExactBudget: 20_000,
    };
    const back = decodeChoice(JSON.parse(JSON.stringify(encodeChoice(inputs))), conflicts, [10, 12, 30]);
    expect(back.offers).toEqual(offers);
    // lifts not in single precision: kept exactly in double
    const doubles = decodeChoice(JSON.parse(JSON.stringify(encodeChoice({ ...inputs, offers: offers.map((o) => ({ ...o, lift: o.lift + 1e-12 })) }))), conflicts, [10, 12, 30]);
    expect(doubles.offers.map((o) => o!.lift)).toEqual(offers.map((o) => o.lift + 1e-12));
    expect(choiceProbabilities(back)).toEqual(choiceProbabilities(inputs));
    expect(() => samplingPool({ kind: 'gamma' } as unknown as SamplingDistribution, 8)).toThrow(/unknown sampling distribution gamma/);
  });

  it('offers without responses share their prior: the log keeps each distinct distribution once', () => {
    const offers = prepareOffers(Array.from({ length: 40 }, (_, i) => offer(`p${i}`, { value: 5 + (i % 7) })));
    const d = decide(offers, subject(), context({ limit: 3 }, 3), new ResponseCounts());
    const e = encodeChoice(traceOf(d)!.choice!);
    expect(Buffer.from(e.d!, 'base64').length).toBe(8);
    expect(Buffer.from(e.di!, 'base64').length).toBe(40);
    expect(choiceProbabilities(decodeChoice(e, traceOf(d)!.conflicts, Array.from(traceOf(d)!.setValueWeights!)))).toEqual(d.offers.map((o) => o.probability));
  });
});
