/**
 * The decision log's row as prepareDecision writes it (bytes, piece by piece: src/store/sql-offers.ts, consideredParts
 * in screen.ts, choiceParts in choice.ts) is exactly the line of the JSON.stringify form (`preparedText`: the object
 * of encodeConsidered / encodeChoice) with COPY's escaping: over realistic decisions (200 bench offers, memos kept and
 * not, responses learned, holdout draws, the mean ranking, nothing shown), contexts with backslashes, tabs and
 * non-ASCII text, and lines longer than a chunk's eighth written between chunk-sized ones. The considered part's
 * blockers (found through the shown offers) equal what consideredOf says for every decision.
 */
import { describe, expect, it } from 'vitest';
import { makeDecide, traceOf } from '../src/core/offers/decide.js';
import { consideredOf, decodeConsidered, type EncodedConsidered, prepareOffers } from '../src/core/offers/screen.js';
import type { DecisionContext, DecisionSubject } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { isoMicros, prepareDecision, preparedRow, preparedText } from '../src/store/sql-offers.js';
import type { DecisionToLog } from '../src/store/store.js';
import { benchOffers } from '../scripts/bench-kit.js';
import { benchStats, benchSubjects } from '../scripts/bench-decide.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

/** The line as it was made before (JSON.stringify of the row's object, COPY text escaping, ISO time by Date). */
function referenceLine(e: DecisionToLog): string {
  const copy = (s: string) => s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
  const whole = Math.floor(e.time);
  const iso = new Date(whole).toISOString();
  const us = Math.round((e.time - whole) * 1000);
  const at = us === 0 ? iso : `${iso.slice(0, -1)}${String(us).padStart(3, '0')}Z`;
  return `${copy(e.decisionId)}\t${at}\t${e.customerId === null ? '\\N' : copy(e.customerId)}\t${copy(preparedText(e))}\n`;
}

function decisions(opts: { memo: boolean; learn: boolean; ranking?: 'mean'; holdout: number; n: number; seed: number }): DecisionToLog[] {
  const offers = prepareOffers(benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), NOW));
  const subjects = benchSubjects(40).map((s: DecisionSubject, i: number): DecisionSubject => {
    if (i % 10 === 9) return { ...s, personalised: false, segment: null, affinity: () => null };
    if (i % 10 === 8) return { ...s, customerId: null, segment: null, orders: 0, spend: 0, daysSinceLastPurchase: null, consent: {} };
    return s;
  });
  const stats = benchStats(offers);
  const decide = makeDecide(opts.ranking ? { ranking: opts.ranking } : {});
  const random = mulberry32(opts.seed);
  const learn = mulberry32(opts.seed + 1);
  const memos = new Map<string, object>();
  const channels = ['web', 'app', 'store'] as const;
  const out: DecisionToLog[] = [];
  for (let i = 0; i < opts.n; i++) {
    const subject = subjects[i % subjects.length];
    const channel = channels[Math.floor(i / subjects.length) % 3];
    const store = channel === 'store' ? 'S1' : null;
    const key = `${i % subjects.length}|${channel}`;
    if (!memos.has(key)) memos.set(key, {});
    const ctx: DecisionContext = {
      channel, store, now: NOW + i * 1000, limit: 1 + (i % 4), inStock: store === null ? () => true : (o) => o.id.charCodeAt(o.id.length - 1) % 5 !== 0,
      contacts: () => undefined, acceptances: (id) => stats.overall(id).accepted, channelConsent: { email: 'email', sms: 'sms', push: 'push' },
      holdoutShare: opts.holdout, random, ...(opts.memo ? { memo: memos.get(key) } : {}),
    };
    const d = decide(offers, subject, ctx, stats);
    const trace = traceOf(d);
    const context: Record<string, unknown> = { channel, store, limit: ctx.limit, segment: subject.segment, personalised: subject.personalised };
    if (i % 7 === 3) context.fallbackReason = 'unknown_customer';
    // text COPY must escape (backslash, tab, newline, carriage return), JSON escapes, non-ASCII and astral characters
    if (i % 11 === 5) context.items = ['a\\b', 'tab\there', 'new\nline', 'cr\r', 'quote"', 'café', '😀', 'lone\ud800', 'x'.repeat(i % 3 === 0 ? 12_000 : 10)];
    out.push({
      decisionId: i % 13 === 1 ? `d\\${i}` : `d-${i}`,
      time: NOW + i * 1000 + (i % 5 === 2 ? 0.25 : 0),
      customerId: subject.customerId === null ? null : String(100 + (i % subjects.length)),
      context,
      considered: trace ?? d.considered,
      shown: d.offers.map((o, position) =>
        trace?.choice ? { offerId: o.offerId, position, score: o.score, propensity: o.propensity } : { offerId: o.offerId, position, probability: o.probability, score: o.score, propensity: o.propensity },
      ),
      policy: { name: 'thompson-beta', version: i % 17 === 4 ? 'v\\2' : '1' },
      holdout: d.holdout,
    });
    if (opts.learn && d.offers.length > 0) {
      const seg = subject.personalised && subject.segment ? subject.segment : 'guest';
      stats.record(d.offers[0].offerId, seg, channel, learn() < 0.05, 1);
    }
  }
  return out;
}

const CASES = [
  { name: 'memos, holdout 0.05', memo: true, learn: false, holdout: 0.05, n: 1500, seed: 1 },
  { name: 'no memos, responses learned', memo: false, learn: true, holdout: 0.05, n: 1500, seed: 2 },
  { name: 'memos, responses learned, holdout 0.3', memo: true, learn: true, holdout: 0.3, n: 1500, seed: 3 },
  { name: 'mean ranking', memo: true, learn: false, ranking: 'mean' as const, holdout: 0.05, n: 600, seed: 4 },
];

describe('decision log row written as bytes', () => {
  for (const c of CASES) {
    it(`is the JSON.stringify line byte for byte (${c.name})`, () => {
      const entries = decisions(c);
      let long = 0;
      let withChoice = 0;
      let blocked = 0;
      const lines = entries.map((e) => prepareDecision(e));
      // every line checked after all were written: a line is never overwritten by a later one (chunks, own buffers)
      for (const [i, e] of entries.entries()) {
        const line = Buffer.from(lines[i].line).toString('utf8');
        expect(line).toBe(referenceLine(e));
        // a line whose bound passes an eighth of a chunk: a buffer of its own
        if (lines[i].line.buffer.byteLength !== 256 * 1024) long++;
        const t = e.considered as { choice?: unknown; shown: readonly number[]; ids: readonly string[] };
        if (t.choice) withChoice++;
        const doc = JSON.parse(preparedRow(lines[i]).doc) as { k: EncodedConsidered; s: { offerId: string }[] };
        if (doc.k.blockers) blocked++;
        // the blockers found from the shown offers name what consideredOf names
        expect(decodeConsidered(doc.k, t.ids, doc.s.map((x) => x.offerId))).toEqual(consideredOf(e.considered as Parameters<typeof consideredOf>[0]));
      }
      expect(withChoice).toBeGreaterThan(entries.length / 2);
      expect(blocked).toBeGreaterThan(10);
      if (c.n >= 1500) expect(long).toBeGreaterThan(0);
    });
  }

  it('isoMicros: the ISO time of Date, microseconds kept, across seconds, years and outside 1970–9999', () => {
    const r = mulberry32(9);
    const times = [0, -1, -1000.5, 999.999, 1000, 253402300799999, 253402300800000, 8.64e15, -8.64e15, NOW, NOW + 0.001, NOW + 0.0005, NOW - 0.25];
    for (let i = 0; i < 5000; i++) times.push(Math.floor(r() * 4e12) + (i % 3 === 0 ? Math.round(r() * 1000) / 1000 : 0), NOW + Math.floor(r() * 5000));
    for (const t of times) {
      const whole = Math.floor(t);
      const iso = new Date(whole).toISOString();
      const us = Math.round((t - whole) * 1000);
      expect(isoMicros(t)).toBe(us === 0 ? iso : `${iso.slice(0, -1)}${String(us).padStart(3, '0')}Z`);
    }
  });
});
