import { describe, expect, it } from 'vitest';
import { evalRuns, parseGrid } from '../src/eval/grid.js';

describe('hyperparameter grid', () => {
  it('expands every combination, typed from the defaults', () => {
    const g = parseGrid('item_knn.neighbours=50,100; item_knn.similarity=cosine,jaccard');
    expect(g.get('item_knn')).toEqual([
      { neighbours: 50, similarity: 'cosine' },
      { neighbours: 50, similarity: 'jaccard' },
      { neighbours: 100, similarity: 'cosine' },
      { neighbours: 100, similarity: 'jaccard' },
    ]);
    const runs = evalRuns(['popularity'], {}, g);
    expect(runs.map((r) => r.label)).toEqual([
      'popularity',
      'item_knn[neighbours=50,similarity=cosine]',
      'item_knn[neighbours=50,similarity=jaccard]',
      'item_knn[neighbours=100,similarity=cosine]',
      'item_knn[neighbours=100,similarity=jaccard]',
    ]);
    // grid values override the configured parameters, the rest stay
    expect(evalRuns([], { item_knn: { neighbours: 7, shrink: 3 } }, parseGrid('item_knn.neighbours=9'))[0].params).toEqual({ neighbours: 9, shrink: 3 });
  });

  it('rejects unknown models, parameters, bad numbers and bad choices', () => {
    expect(() => parseGrid('nope.k=1')).toThrow(/unknown model/);
    expect(() => parseGrid('item_knn.nope=1')).toThrow(/no parameter/);
    expect(() => parseGrid('item_knn.neighbours=ten')).toThrow(/numbers/);
    expect(() => parseGrid('item_knn.similarity=euclid')).toThrow(/one of/);
    expect(() => parseGrid('item_knn')).toThrow(/model\.param/);
  });
});
