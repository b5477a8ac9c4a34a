/**
 * The service's scorer (scoreListInto: no per-call arrays, sparse list and TIFU terms, one pass for
 * the sum) against evaluation's (scoreList), on random tables, specs and persons covering every term
 * and its edge cases (negative list weights, all-negative factor scores, a max ≤ 0 that zeroes or keeps
 * a term, the same learned model twice, own items, items outside the lists): every score must be the
 * same double (Object.is), and the same scratch reused call after call must leave no trace.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/core/random.js';
import { type LearnedKind, type ListSpec, type ServedPerson, type ServedTables, scoreList, scoreListInto, ServedScratch, topAccepted } from '../src/core/served-model.js';
import { listSpec } from '../src/models/served.js';
import { SimdScorer } from '../src/serve/simd-scorer.js';

function lists(rnd: () => number, n: number, negative: boolean) {
  const indptr = new Int32Array(n + 1);
  const indices: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = Math.floor(rnd() * 6);
    for (let q = 0; q < m; q++) {
      indices.push(Math.floor(rnd() * n));
      scores.push(negative && rnd() < 0.4 ? -rnd() : rnd());
    }
    indptr[i + 1] = indices.length;
  }
  return { indptr, indices: Int32Array.from(indices), scores: Float32Array.from(scores) };
}

function world(seed: number, n: number, k: number, simd: boolean): ServedTables {
  const rnd = mulberry32(seed);
  const itemFactors = Float32Array.from({ length: n * k }, () => rnd() * 2 - 1);
  const scorer = simd ? SimdScorer.create(itemFactors, k, n) : null;
  return {
    nItems: n,
    popularity: Float32Array.from({ length: n }, () => (rnd() < 0.1 ? 0 : rnd())),
    trends: { '0': Float32Array.from({ length: n }, () => rnd()), '7': Float32Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : rnd())) },
    lists: { ease: lists(rnd, n, true), item_knn: lists(rnd, n, false) },
    factors: { k, itemFactors, ...(scorer ? { dot: (x: Float32Array) => scorer.scores(x) } : {}) },
  };
}

const KINDS: LearnedKind[] = ['none', 'als', 'ease', 'item_knn'];

function randomSpec(rnd: () => number): ListSpec {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const learned = pick(KINDS);
  return listSpec('random', {
    learned,
    learnedWeight: pick([0, 1, 0.5, 2]),
    ...(rnd() < 0.6 ? { learned2: rnd() < 0.2 ? learned : pick(KINDS), learned2Weight: pick([0, 1, 0.25, 3]) } : {}),
    trendHalfLifeDays: pick([0, 7, 3]), // 3: no such table
    trendWeight: pick([0, 1, 0.5]),
    tifuWeight: pick([0, 0, 1, 0.3]),
    tifuAlpha: pick([0.7, 0.9, 1]),
    ownedFirst: rnd() < 0.2,
    ...(rnd() < 0.3 ? { ownWeight: pick([0.5, 1]), ownHalfLifeDays: pick([0, 30]) } : {}),
  });
}

function randomPerson(rnd: () => number, n: number, k: number): ServedPerson {
  const m = Math.floor(rnd() * 6);
  const items = Array.from({ length: m }, () => (rnd() < 0.05 ? n + 3 : Math.floor(rnd() * n))).filter((i) => i < n || rnd() < 0.5);
  const mode = rnd();
  // no vector, or a random one (the zero vector: every 17th case)
  const vector = mode < 0.15 ? null : Float32Array.from({ length: k }, () => rnd() * 2 - 1);
  return {
    items: items.filter((i) => i < n),
    counts: items.filter((i) => i < n).map(() => (rnd() < 0.2 ? 0 : 1 + Math.floor(rnd() * 3))),
    ...(rnd() < 0.5 ? { listWeights: items.filter((i) => i < n).map(() => (rnd() < 0.2 ? -1 : rnd() * 2)) } : {}),
    vector,
    lastTime: items.filter((i) => i < n).map(() => Math.floor(rnd() * 100) * 86_400_000),
    tifu:
      rnd() < 0.5
        ? {
            own: items.filter((i) => i < n).map(() => (rnd() < 0.3 ? -rnd() : rnd())),
            nbrItems: Array.from({ length: Math.floor(rnd() * 8) }, () => Math.floor(rnd() * n)),
            nbrScores: Array.from({ length: 8 }, () => (rnd() < 0.5 ? -rnd() : rnd())),
          }
        : null,
  };
}

/** A factor vector whose scores are all 0 (max ≤ 0: the ALS term is zeroed). */
const zeroVector = (k: number) => new Float32Array(k);

describe('scoreListInto (serving) equals scoreList (evaluation), score for score', () => {
  for (const [seed, n, k, simd] of [
    [1, 257, 8, false],
    [2, 300, 64, true],
    [3, 41, 3, true],
  ] as const) {
    it(`${n} items, k ${k}${simd ? ', SIMD dot' : ''}: 400 random specs and persons on one scratch`, () => {
      const tables = world(seed, n, k, simd);
      const rnd = mulberry32(seed * 101);
      const scratch = new ServedScratch(n);
      const out = new Float64Array(n).fill(Number.NaN);
      let differing = 0;
      let checked = 0;
      for (let c = 0; c < 400; c++) {
        const spec = randomSpec(rnd);
        const person = randomPerson(rnd, n, k);
        if (c % 17 === 0) person.vector = zeroVector(k);
        const want = scoreList(tables, spec, person);
        const got = scoreListInto(tables, spec, person, out, scratch);
        expect(got).toBe(out);
        for (let j = 0; j < n; j++) {
          checked++;
          if (!Object.is(want[j], got[j])) differing++;
        }
        const owned = new Set(Array.from(person.items));
        const top = (s: Float64Array) => topAccepted(s, 10, (i) => !owned.has(i));
        expect(top(got)).toEqual(top(want));
      }
      expect(checked).toBe(400 * n);
      expect(differing).toBe(0);
    });
  }

  it('a list-based term whose sums are all ≤ 0 is zeroed, and TIFU keeps its raw sums then (as the reference)', () => {
    const tables: ServedTables = {
      nItems: 4,
      popularity: Float32Array.from([0.5, 0.25, 1, 0]),
      trends: {},
      lists: { ease: { indptr: Int32Array.from([0, 2, 2, 2, 2]), indices: Int32Array.from([1, 2]), scores: Float32Array.from([-1, -2]) } },
      factors: null,
    };
    const person: ServedPerson = { items: [0], counts: [1], tifu: { own: [-0.5], nbrItems: [3], nbrScores: [-1] } };
    const spec = listSpec('neg', { learned: 'ease', learnedWeight: 1, tifuWeight: 1, tifuAlpha: 0.5 });
    const scratch = new ServedScratch(4);
    const got = Array.from(scoreListInto(tables, spec, person, new Float64Array(4), scratch));
    expect(got).toEqual(Array.from(scoreList(tables, spec, person)));
    // ease zeroed; TIFU raw: item 0 0.5·(−0.5), item 3 0.5·(−1)
    expect(got[0]).toBeCloseTo(0.5e-6 - 0.25, 12);
    expect(got[3]).toBeCloseTo(-0.5, 12);
    // the scratch is clean afterwards: a person without lists or TIFU scores popularity alone
    const bare = Array.from(scoreListInto(tables, spec, { items: [], counts: [] }, new Float64Array(4), scratch));
    expect(bare).toEqual([0.5e-6, 0.25e-6, 1e-6, 0]);
  });
});
