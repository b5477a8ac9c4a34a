/**
 * In-memory `ResponseStats`: accepted / shown counts per offer × segment × channel and per offer, fed one response
 * at a time. The simulator learns into one; the evaluator fits one on a decision log.
 */
import type { Segment } from '../records.js';
import { OFFER_CHANNELS, type OfferChannel, type ResponseStats, type StatsSegment } from './types.js';

interface Count {
  accepted: number;
  shown: number;
}

/**
 * Values per offer × segment × channel in nested maps: a lookup hashes the three strings as given (their hashes are
 * cached by the engine) instead of building a key string per call, which `decide` does six times per offer.
 */
export class CellMap<T> {
  private readonly byOffer = new Map<string, Map<string, Map<string, T>>>();

  get(offerId: string, segment: string, channel: string): T | undefined {
    return this.byOffer.get(offerId)?.get(segment)?.get(channel);
  }

  /** The value, made by `make` and stored when missing. */
  upsert(offerId: string, segment: string, channel: string, make: () => T): T {
    let bySeg = this.byOffer.get(offerId);
    if (!bySeg) this.byOffer.set(offerId, (bySeg = new Map()));
    let byCh = bySeg.get(segment);
    if (!byCh) bySeg.set(segment, (byCh = new Map()));
    let v = byCh.get(channel);
    if (v === undefined) byCh.set(channel, (v = make()));
    return v;
  }
}

export class ResponseCounts implements ResponseStats {
  private readonly cells = new CellMap<Count>();
  private readonly offers = new Map<string, Count>();
  private readonly rows = new Map<string, Map<string, { accepted: Float64Array; shown: Float64Array }>>();
  /** Bumped by every `record` (ResponseStats.version). */
  version = 0;

  /**
   * One impression of `offerId` and whether it was accepted. `exposure` (default 1) is what the impression adds to
   * `shown`: the decision's affinity lift makes the counts those of a subject of neutral affinity (see propensity.ts).
   */
  record(offerId: string, segment: StatsSegment, channel: OfferChannel, accepted: boolean, exposure = 1): void {
    this.version++;
    let o = this.offers.get(offerId);
    if (!o) this.offers.set(offerId, (o = { accepted: 0, shown: 0 }));
    for (const c of [this.cells.upsert(offerId, segment, channel, () => ({ accepted: 0, shown: 0 })), o]) {
      c.shown += exposure;
      if (accepted) c.accepted++;
    }
    const ch = OFFER_CHANNELS.indexOf(channel);
    let row = this.rows.get(offerId)?.get(segment);
    if (!row) {
      let bySegment = this.rows.get(offerId);
      if (!bySegment) this.rows.set(offerId, (bySegment = new Map()));
      bySegment.set(segment, (row = { accepted: new Float64Array(OFFER_CHANNELS.length), shown: new Float64Array(OFFER_CHANNELS.length) }));
    }
    row.shown[ch] += exposure;
    if (accepted) row.accepted[ch]++;
  }

  /** The cells of one offer × segment per channel (ResponseStats.segmentRow). */
  segmentRow(offerId: string, segment: StatsSegment): { accepted: Float64Array; shown: Float64Array } | undefined {
    return this.rows.get(offerId)?.get(segment);
  }

  cell(offerId: string, segment: StatsSegment, channel: OfferChannel): Count {
    return this.cells.get(offerId, segment, channel) ?? { accepted: 0, shown: 0 };
  }

  overall(offerId: string): Count {
    return this.offers.get(offerId) ?? { accepted: 0, shown: 0 };
  }
}
