/**
 * The decision log's form of a choice (src/core/offers/choice.ts `encodeChoice`) is made on the request path in one
 * pass over scratch buffers, with the distinct (a, b) pairs found through a hash table. It must give exactly the
 * record the straightforward encoding below gives (the one the log was specified with): pairs in order of first
 * appearance, equal as a Map keyed by a then b finds them (SameValueZero: 0 and −0 alike, NaN equal to NaN),
 * float32 only when every number is one, uint16 indices past 256 pairs, and consecutive calls must not see each
 * other's scratch.
 */
import { describe, expect, it } from 'vitest';
import { type ChoiceInputs, type ChoiceOffer, decodeChoice, encodeChoice, type EncodedChoice } from '../src/core/offers/choice.js';
import { mulberry32 } from '../src/core/random.js';

const b64 = (a: ArrayBufferView): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const singles = (xs: ArrayLike<number>): boolean => {
  for (let i = 0; i < xs.length; i++) if (Math.fround(xs[i]) !== xs[i]) return false;
  return true;
};

/** The reference: the encoding as first written (arrays and a Map per call). */
function reference(c: ChoiceInputs): EncodedChoice {
  const out: EncodedChoice = { v: 1, ranking: c.ranking, served: c.served, h: c.holdoutShare, limit: c.limit, seed: c.seed, draws: c.draws, pool: c.poolSize, budget: c.uniformExactBudget, shown: [...c.shown] };
  if (c.greedy) out.greedy = [...c.greedy];
  const kept: number[] = [];
  for (let i = 0; i < c.offers.length; i++) if (c.offers[i] !== null) kept.push(i);
  if (kept.length === 0) return out;
  const mask = new Uint8Array((c.offers.length + 7) >> 3);
  for (const i of kept) mask[i >> 3] |= 1 << (i & 7);
  out.at = b64(mask);
  const lifts = Float64Array.from(kept, (i) => c.offers[i]!.lift);
  const allBeta = kept.every((i) => c.offers[i]!.dist.kind === 'beta');
  let pairs: number[] | null = null;
  let di: Uint8Array | Uint16Array | null = null;
  if (allBeta) {
    pairs = [];
    const slot = new Map<number, Map<number, number>>();
    const idx = kept.map((i) => {
      const d = c.offers[i]!.dist as { a: number; b: number };
      let byB = slot.get(d.a);
      if (!byB) slot.set(d.a, (byB = new Map()));
      let s = byB.get(d.b);
      if (s === undefined) {
        byB.set(d.b, (s = pairs!.length / 2));
        pairs!.push(d.a, d.b);
      }
      return s;
    });
    di = pairs.length / 2 <= 256 ? Uint8Array.from(idx) : Uint16Array.from(idx);
  } else out.dists = kept.map((i) => ({ ...c.offers[i]!.dist }));
  const f32 = singles(lifts) && (pairs === null || singles(pairs));
  const floats = (xs: ArrayLike<number>): string => b64(f32 ? Float32Array.from(xs) : Float64Array.from(xs));
  out.lift = floats(lifts);
  if (pairs !== null) {
    out.d = floats(pairs);
    out.di = b64(di!);
  }
  if (!f32) out.f64 = true;
  return out;
}

function inputs(r: () => number, n: number, opts: { distinct: number; special?: boolean; f64?: boolean; logit?: boolean }): ChoiceInputs {
  const pick = (): number => {
    const base = Math.fround(1 + Math.floor(r() * opts.distinct) * 0.5);
    if (!opts.special) return base;
    const x = r();
    return x < 0.1 ? 0 : x < 0.2 ? -0 : x < 0.25 ? Number.NaN : base;
  };
  const offers: (ChoiceOffer | null)[] = Array.from({ length: n }, () => {
    if (r() < 0.3) return null;
    const lift = opts.f64 && r() < 0.2 ? 1 + r() : Math.fround(0.5 + r());
    const dist: ChoiceOffer['dist'] = opts.logit && r() < 0.3 ? { kind: 'logitnormal', mu: r() - 0.5, sigma: r() } : { kind: 'beta', a: pick(), b: pick() };
    return { dist, lift, vw: 1 + r() };
  });
  const shown = offers.map((o, i) => (o ? i : -1)).filter((i) => i >= 0).slice(0, 3);
  return { ranking: 'thompson', served: 'thompson', holdoutShare: 0.05, limit: 3, n, conflicts: offers.map(() => []), shown, offers, seed: Math.floor(r() * 2 ** 32), draws: 200, poolSize: 256, uniformExactBudget: 20_000 };
}

describe('encodeChoice', () => {
  it('gives exactly the reference record: shared and distinct pairs, 0 and −0, NaN, float64 numbers, uint16 indices, other distributions', () => {
    const r = mulberry32(17);
    const cases: ChoiceInputs[] = [];
    for (let t = 0; t < 40; t++) {
      cases.push(inputs(r, 1 + Math.floor(r() * 200), { distinct: 2 }));
      cases.push(inputs(r, 1 + Math.floor(r() * 200), { distinct: 1000 }));
      cases.push(inputs(r, 1 + Math.floor(r() * 120), { distinct: 5, special: true }));
      cases.push(inputs(r, 1 + Math.floor(r() * 120), { distinct: 1000, f64: true }));
      cases.push(inputs(r, 1 + Math.floor(r() * 60), { distinct: 3, logit: true }));
    }
    // more than 256 distinct pairs: indices as uint16; and more offers than the scratch first holds
    cases.push(inputs(r, 1500, { distinct: 100_000 }));
    cases.push(inputs(r, 600, { distinct: 3 }));
    cases.push({ ...cases[0], offers: cases[0].offers.map(() => null) });
    let wide = 0;
    // in an order that makes each call follow a different one (scratch left by a larger call is not read)
    for (const c of [...cases, ...cases.reverse()]) {
      const got = encodeChoice(c);
      expect(got).toEqual(reference(c));
      expect(JSON.stringify(got)).toBe(JSON.stringify(reference(c)));
      if (got.di !== undefined && Buffer.from(got.di, 'base64').length === 2 * c.offers.filter((o) => o !== null).length) wide++;
    }
    expect(wide).toBeGreaterThan(0);
  });

  it('round-trips through decodeChoice with many distinct pairs', () => {
    const c = inputs(mulberry32(5), 400, { distinct: 100_000 });
    const back = decodeChoice(encodeChoice(c), c.conflicts, c.offers.map((o) => o?.vw ?? 1));
    expect(back.offers.map((o) => (o ? [o.dist, o.lift] : null))).toEqual(c.offers.map((o) => (o ? [o.dist, o.lift] : null)));
  });
});
