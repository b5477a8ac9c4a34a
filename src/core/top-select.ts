/**
 * Partial top-k selection: a bounded min-heap over (score, item), worst on top, with a cheap
 * threshold test, so a dense scan over every item only consults a (costlier) item filter for
 * candidates that would enter the heap. O(n log k), no sort of all items. Ties go to the lower
 * item index, so answers are deterministic. -Infinity and NaN are never selected.
 */
export class TopSelect {
  private readonly ids: Int32Array;
  private readonly scores: Float64Array;
  size = 0;

  constructor(readonly capacity: number) {
    this.ids = new Int32Array(Math.max(capacity, 1));
    this.scores = new Float64Array(Math.max(capacity, 1));
  }

  private static worse(s: number, i: number, t: number, j: number): boolean {
    return s < t || (s === t && i > j);
  }

  /** The score a candidate must at least reach to enter (−Infinity until full). */
  floor(): number {
    return this.size < this.capacity ? -Infinity : this.scores[0];
  }

  /** true when (score, id) would enter the selection (call before an expensive filter). */
  wouldAccept(score: number, id: number): boolean {
    if (!(score > -Infinity) || this.capacity === 0) return false;
    return this.size < this.capacity || TopSelect.worse(this.scores[0], this.ids[0], score, id);
  }

  push(score: number, id: number): void {
    if (!this.wouldAccept(score, id)) return;
    const { ids, scores } = this;
    if (this.size < this.capacity) {
      let c = this.size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!TopSelect.worse(score, id, scores[p], ids[p])) break;
        ids[c] = ids[p];
        scores[c] = scores[p];
        c = p;
      }
      ids[c] = id;
      scores[c] = score;
      return;
    }
    this.siftDown(score, id, this.size);
  }

  private siftDown(score: number, id: number, n: number): void {
    const { ids, scores } = this;
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && TopSelect.worse(scores[r], ids[r], scores[l], ids[l]) ? r : l;
      if (!TopSelect.worse(scores[m], ids[m], score, id)) break;
      ids[c] = ids[m];
      scores[c] = scores[m];
      c = m;
    }
    ids[c] = id;
    scores[c] = score;
  }

  /** Writes the selection best first into out arrays at offset, padding to capacity with -1 / -Infinity; empties the selector. */
  drainInto(outIds: Int32Array, outScores: Float32Array, offset: number): void {
    for (let p = this.size; p < this.capacity; p++) {
      outIds[offset + p] = -1;
      outScores[offset + p] = -Infinity;
    }
    while (this.size > 0) {
      const last = --this.size;
      outIds[offset + last] = this.ids[0];
      outScores[offset + last] = this.scores[0];
      this.siftDown(this.scores[last], this.ids[last], last);
    }
  }

  /** Writes the selected ids best first into `out` (from 0); returns how many; empties the selector. */
  drainIds(out: Int32Array): number {
    const len = this.size;
    while (this.size > 0) {
      const last = --this.size;
      out[last] = this.ids[0];
      this.siftDown(this.scores[last], this.ids[last], last);
    }
    return len;
  }

  /** The selected ids in heap order (not sorted): a view valid until the next push or clear. */
  heapIds(): Int32Array {
    return this.ids.subarray(0, this.size);
  }

  /** Empties the selector. */
  clear(): void {
    this.size = 0;
  }

  /** The selection best first; empties the selector. */
  drain(): { id: number; score: number }[] {
    const out: { id: number; score: number }[] = new Array(this.size);
    while (this.size > 0) {
      const last = --this.size;
      out[last] = { id: this.ids[0], score: this.scores[0] };
      this.siftDown(this.scores[last], this.ids[last], last);
    }
    return out;
  }
}
