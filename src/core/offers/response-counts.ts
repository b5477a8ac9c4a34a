/**
 * In-memory `ResponseStats`: accepted / shown counts per offer × segment × channel and per offer, fed one response
 * at a time. The simulator learns into one; the evaluator fits one on a decision log.
 */
import type { Segment } from '../records.js';
import type { OfferChannel, ResponseStats } from './types.js';

interface Count {
  accepted: number;
  shown: number;
}

export class ResponseCounts implements ResponseStats {
  private readonly cells = new Map<string, Count>();
  private readonly offers = new Map<string, Count>();

  /**
   * One impression of `offerId` and whether it was accepted. `exposure` (default 1) is what the impression adds to
   * `shown`: the decision's affinity lift makes the counts those of a subject of neutral affinity (see propensity.ts).
   */
  record(offerId: string, segment: Segment | 'guest', channel: OfferChannel, accepted: boolean, exposure = 1): void {
    for (const [map, key] of [
      [this.cells, `${offerId}|${segment}|${channel}`],
      [this.offers, offerId],
    ] as const) {
      let c = map.get(key);
      if (!c) map.set(key, (c = { accepted: 0, shown: 0 }));
      c.shown += exposure;
      if (accepted) c.accepted++;
    }
  }

  cell(offerId: string, segment: Segment | 'guest', channel: OfferChannel): Count {
    return this.cells.get(`${offerId}|${segment}|${channel}`) ?? { accepted: 0, shown: 0 };
  }

  overall(offerId: string): Count {
    return this.offers.get(offerId) ?? { accepted: 0, shown: 0 };
  }
}
