/** The shortcuts that make `decide` cheap give what the plain definitions give (see BENCHMARKS.md, decide() speed). */
import { describe, expect, it } from 'vitest';
import { decide, targetConflicts, uniformProbability } from '../src/core/offers/decide.js';
import { mulberry32 } from '../src/core/random.js';
import { context, offer, stats, subject } from './helpers/offers.js';

/** Probability that uniform picks put `target` at `position`, by enumerating every pick sequence, and the nodes visited. */
function enumerate(n: number, conflicts: number[][], target: number, position: number): { p: number; nodes: number } {
  let nodes = 0;
  const rec = (blocked: Set<number>, depth: number, p: number): number => {
    nodes++;
    const free = [...Array(n).keys()].filter((i) => !blocked.has(i));
    if (free.length === 0) return 0;
    if (depth === position) return blocked.has(target) ? 0 : p / free.length;
    let sum = 0;
    for (const c of free) {
      if (c === target) continue;
      sum += rec(new Set([...blocked, c, ...conflicts[c]]), depth + 1, p / free.length);
    }
    return sum;
  };
  return { p: rec(new Set(), 0, 1), nodes };
}

describe('decide: fast paths', () => {
  it('uniform probabilities at positions 1–3 equal the enumeration, and are null exactly when the search exceeds its budget', () => {
    const r = mulberry32(5);
    const offers = Array.from({ length: 9 }, (_, i) =>
      offer(`o${i}`, { targets: { skus: r() < 0.5 ? [`s${Math.floor(r() * 3)}`] : [], categories: r() < 0.4 ? [`c${Math.floor(r() * 2)}`] : [] } }),
    );
    const conflicts = targetConflicts(offers);
    expect(conflicts.some((c) => c.length > 0)).toBe(true);
    for (let position = 1; position <= 3; position++) {
      for (let target = 0; target < offers.length; target++) {
        const { p, nodes } = enumerate(offers.length, conflicts, target, position);
        expect(uniformProbability(offers.length, conflicts, target, position, nodes)).toBeCloseTo(p, 12);
        expect(uniformProbability(offers.length, conflicts, target, position, nodes - 1)).toBeNull();
      }
    }
  });

  it('the target conflicts cached for an offer list follow a replaced offer or replaced targets in the same array', () => {
    const offers = [offer('a', { value: 1000, targets: { skus: ['X'], categories: [] } }), offer('b', { value: 1, targets: { skus: ['X'], categories: [] } })];
    const why = () => decide(offers, subject(), context({ limit: 2 }), stats()).considered.find((c) => c.offerId === 'b');
    expect(why()).toEqual({ offerId: 'b', outcome: 'ranked_lower', why: 'same_target_as:a' });
    offers[0] = offer('a', { value: 1000, targets: { skus: ['Y'], categories: [] } });
    expect(why()).toEqual({ offerId: 'b', outcome: 'shown' });
    offers[1].targets = { skus: ['Y'], categories: [] };
    expect(why()).toEqual({ offerId: 'b', outcome: 'ranked_lower', why: 'same_target_as:a' });
    offers[1].targets.skus.push('Z');
    offers[1].targets.skus.splice(0, 1);
    expect(why()).toEqual({ offerId: 'b', outcome: 'shown' });
  });
});
