import { describe, expect, it } from 'vitest';
import { loadedModelFromBundle } from '../src/cache/model-source.js';
import { buyAgain } from '../src/serve/buy-again.js';
import { aggregateLists, factorCandidates, factorScores, popular } from '../src/serve/candidate-sources.js';
import { parseFallbackChain } from '../src/serve/fallback-chain.js';
import { ItemFilter } from '../src/serve/item-filter.js';
import { TopSelect } from '../src/core/top-select.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { TINY_CATEGORIES, TINY_SKUS, tinyBundle } from './helpers/tiny-bundle.js';

const NOW = Date.UTC(2026, 10, 1);
const bundle = tinyBundle({ tea: 'c-tea', mug: 'c-mug', novec: 'c-novec' }, NOW);
const model = loadedModelFromBundle(bundle);
const filter = (parts: Partial<ConstructorParameters<typeof ItemFilter>[0]> = {}) =>
  new ItemFilter({ skus: TINY_SKUS, categories: TINY_CATEGORIES, ...parts });
const skus = (c: { item: number }[]) => c.map((x) => TINY_SKUS[x.item]);

describe('TopSelect', () => {
  it('selects the k best of a random array, ties to the lower index, like a full sort', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const scores = Array.from({ length: 5000 }, () => Math.round(rnd() * 100) / 10);
    const sel = new TopSelect(25);
    scores.forEach((s, i) => sel.push(s, i));
    const expected = scores
      .map((s, i) => ({ id: i, score: s }))
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, 25);
    expect(sel.drain()).toEqual(expected);
  });
  it('wouldAccept is false for -Infinity and for worse-than-worst once full', () => {
    const sel = new TopSelect(2);
    expect(sel.wouldAccept(-Infinity, 0)).toBe(false);
    sel.push(5, 0);
    sel.push(3, 1);
    expect(sel.wouldAccept(2, 2)).toBe(false);
    expect(sel.wouldAccept(3, 0)).toBe(true); // same score, lower index wins
    expect(sel.wouldAccept(4, 3)).toBe(true);
  });
});

describe('ItemFilter', () => {
  it('combines exclusions, categories and stock', () => {
    const f = filter({ inStock: new Set(['TEA-1', 'TEA-2', 'MUG-1']), include: ['tea', 'mug'], exclude: ['mug'], excluded: [1] });
    expect(TINY_SKUS.filter((_, i) => f.accepts(i))).toEqual(['TEA-1']);
  });
});

describe('candidate sources', () => {
  it('popular walks the store list when known, else global, honouring the filter', () => {
    expect(skus(popular(model, filter(), 2, { store: 'S1' }))).toEqual(['MUG-3', 'MUG-2']);
    expect(popular(model, filter(), 1, { store: 'S1' })[0].reason).toEqual({ type: 'popular', scope: 'store', store: 'S1' });
    expect(skus(popular(model, filter(), 3, { store: 'nowhere' }))).toEqual(['SOAP-1', 'TEA-1', 'MUG-1']);
    expect(skus(popular(model, filter(), 2, { segment: 'vip' }))).toEqual(['TEA-3', 'MUG-3']);
    expect(skus(popular(model, filter({ excluded: [6] }), 2, { category: 'soap' }))).toEqual(['SOAP-2']);
  });
  it('aggregateLists sums list scores over seeds and names the strongest seed', () => {
    // basket TEA-1 + TEA-2: fbt TEA-1→MUG-1 3, TEA-1→SOAP-1 1.5, TEA-2→MUG-2 3
    const out = aggregateLists(model, model.fbt, [0, 1], filter({ excluded: [0, 1] }), 10, (s) => ({ type: 'bought_with', sku: s }));
    expect(out.map((c) => [TINY_SKUS[c.item], c.score, (c.reason as { sku: string }).sku])).toEqual([
      ['MUG-1', 3, 'TEA-1'],
      ['MUG-2', 3, 'TEA-2'],
      ['SOAP-1', 1.5, 'TEA-1'],
    ]);
    // neighbours of TEA-1 and TEA-2: TEA-3 gets 0.8 + 0.8 = 1.6
    const nb = aggregateLists(model, model.neighbours, [0, 1], filter({ excluded: [0, 1] }), 10, (s) => ({ type: 'similar_to', sku: s }));
    expect(skus(nb)).toEqual(['TEA-3']);
    expect(nb[0].score).toBeCloseTo(1.6, 6);
  });
  it('factorScores ranks x·y over every item, with the filter applied on the stream', () => {
    const x = Float32Array.from([1, 0]);
    // teas 1.0, 0.9, 0.8; soaps 0.3, 0.2; mugs 0
    expect(factorScores(model, x, filter(), 4).map((p) => TINY_SKUS[p.id])).toEqual(['TEA-1', 'TEA-2', 'TEA-3', 'SOAP-1']);
    expect(factorScores(model, x, filter({ excluded: [0], exclude: ['tea'] }), 2).map((p) => TINY_SKUS[p.id])).toEqual(['SOAP-1', 'SOAP-2']);
  });
  it('factorScores on a big catalogue scores only the candidate set', () => {
    const x = Float32Array.from([1, 0]);
    const picks = factorScores(model, x, filter(), 3, { candidates: () => [5, 3, 2], fullScanMax: 4 });
    expect(picks.map((p) => TINY_SKUS[p.id])).toEqual(['TEA-3', 'MUG-1', 'MUG-3']);
  });
});

describe('factorCandidates', () => {
  it('neighbours of the seeds, then the heads of the store, global and trending lists, each item once', () => {
    // TEA-1's neighbours TEA-2, TEA-3; S1: MUG-3, MUG-2, TEA-3; global: all 8 (SOAP-1 first); trending MUG-3, TEA-3
    expect([...factorCandidates(model, [0], 'S1')].map((i) => TINY_SKUS[i])).toEqual(['TEA-2', 'TEA-3', 'MUG-3', 'MUG-2', 'SOAP-1', 'TEA-1', 'MUG-1', 'SOAP-2']);
    expect([...factorCandidates(model, [6])].slice(0, 2).map((i) => TINY_SKUS[i])).toEqual(['SOAP-2', 'SOAP-1']);
  });
});

describe('buyAgain', () => {
  it('ranks repeated items by closeness to their expected repurchase, then items bought once', () => {
    const mug = bundle.customers[1];
    const out = buyAgain(model, mug, filter(), 10, NOW);
    // SOAP-2: bought twice, every 30 days, last 5 days ago → due in 25 days: score ln 3 / (1 + 25/30)
    expect(skus(out)).toEqual(['SOAP-2', 'MUG-1']);
    expect(out[0].score).toBeCloseTo(Math.log(3) / (1 + 25 / 30), 5);
    expect(out[0].reason).toMatchObject({ type: 'buy_again', expectedInDays: 25, purchases: 2 });
    // MUG-1 bought once 40 days ago: ln 2 / (1 + 40/30) / 10, no expected date
    expect(out[1].score).toBeCloseTo(Math.log(2) / (1 + 40 / 30) / 10, 6);
    expect(out[1].reason).toMatchObject({ expectedInDays: null, lastPurchased: new Date(NOW - 40 * 86_400_000).toISOString() });
  });
  it('an item due now outranks one due later even with fewer purchases', () => {
    const rec = { ...bundle.customers[1] };
    rec.items = Int32Array.from([0, 1]);
    rec.counts = Float32Array.from([2, 5]);
    rec.lastTime = Float64Array.from([NOW - 10 * 86_400_000, NOW]);
    rec.intervalDays = Float32Array.from([10, 60]);
    // TEA-1: due today → ln 3 / 1 = 1.10; TEA-2: due in 60 days → ln 6 / 2 = 0.90
    expect(skus(buyAgain(model, rec, filter(), 10, NOW))).toEqual(['TEA-1', 'TEA-2']);
    expect(skus(buyAgain(model, rec, filter({ excluded: [0] }), 10, NOW))).toEqual(['TEA-2']);
  });
});

describe('parseFallbackChain', () => {
  it('parses, deduplicates and always ends with popular', () => {
    expect(parseFallbackChain('personal,neighbours,segment,popular')).toEqual(['personal', 'neighbours', 'segment', 'popular']);
    expect(parseFallbackChain(' neighbours , neighbours ')).toEqual(['neighbours', 'popular']);
  });
  it('names the variable and the bad step', () => {
    expect(() => parseFallbackChain('personal,magic')).toThrow(InvalidArgumentError);
    expect(() => parseFallbackChain('personal,magic')).toThrow(/FALLBACK_CHAIN.*magic/);
  });
});

describe('SimdScorer', () => {
  it('matches the plain dot products (k not a multiple of 4), and later calls do not leak earlier x', async () => {
    const { SimdScorer } = await import('../src/serve/simd-scorer.js');
    const n = 1000;
    const k = 10;
    let seed = 3;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
    const y = Float32Array.from({ length: n * k }, rnd);
    const scorer = SimdScorer.create(y, k, n)!;
    expect(scorer).not.toBeNull();
    for (let round = 0; round < 2; round++) {
      const x = Float32Array.from({ length: k }, rnd);
      const got = scorer.scores(x);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let d = 0; d < k; d++) s += x[d] * y[i * k + d];
        expect(got[i]).toBeCloseTo(s, 5);
      }
    }
  });
});
