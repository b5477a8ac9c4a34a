import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/core/random.js';
import type { OfferChannel } from '../src/core/offers/types.js';
import type { Segment } from '../src/core/records.js';
import { doublyRobust, effectiveSampleSize, ips, snips } from '../src/eval/off-policy.js';
import { evaluateOfferLog } from '../src/eval/offer-evaluation.js';
import { formatOfferLog, parseOfferLog, type OfferLogRow } from '../src/eval/offer-log.js';
import { storedLogRows } from '../src/eval/offer-log-store.js';
import { offer } from './helpers/offers.js';

/** A static world with known truth: 3 offers, contexts segment × channel, a stochastic logging policy. */
const OFFERS = [
  { id: 'o1', value: 10 },
  { id: 'o2', value: 20 },
  { id: 'o3', value: 5 },
];
const SEGS: Segment[] = ['new', 'repeat', 'vip'];
const CHANNELS: OfferChannel[] = ['web', 'store'];
/** True acceptance rate [segment][channel][offer]. */
const RATE = [
  [[0.08, 0.02, 0.2], [0.1, 0.03, 0.25]],
  [[0.05, 0.04, 0.15], [0.06, 0.05, 0.18]],
  [[0.03, 0.09, 0.1], [0.04, 0.12, 0.12]],
];
/** Logging probabilities per segment (rotated preference). */
const LOGGING = [
  [0.6, 0.25, 0.15],
  [0.2, 0.5, 0.3],
  [0.3, 0.2, 0.5],
];

function simulatedLog(seed: number, n: number): OfferLogRow[] {
  const r = mulberry32(seed);
  const rows: OfferLogRow[] = [];
  for (let t = 0; t < n; t++) {
    const s = Math.floor(r() * 3);
    const c = Math.floor(r() * 2);
    const u = r();
    const a = u < LOGGING[s][0] ? 0 : u < LOGGING[s][0] + LOGGING[s][1] ? 1 : 2;
    const accepted = r() < RATE[s][c][a];
    rows.push({
      line: t + 2,
      decisionId: `d${t}`,
      time: null,
      customerId: `c${t % 500}`,
      segment: SEGS[s],
      channel: CHANNELS[c],
      store: null,
      offerId: OFFERS[a].id,
      position: 1,
      probability: LOGGING[s][a],
      reward: accepted ? OFFERS[a].value : 0,
      accepted,
      value: OFFERS[a].value,
      candidates: null,
    });
  }
  return rows;
}

/** True value per decision of a policy given as π(offer index | segment, channel). */
function truth(pi: (s: number, c: number) => number[]): number {
  let v = 0;
  for (let s = 0; s < 3; s++) for (let c = 0; c < 2; c++) pi(s, c).forEach((p, a) => (v += (p * RATE[s][c][a] * OFFERS[a].value) / 6));
  return v;
}

const TRUE: Record<string, number> = {
  uniform: truth(() => [1 / 3, 1 / 3, 1 / 3]),
  value_greedy: truth(() => [0, 1, 0]),
  'always:o1': truth(() => [1, 0, 0]),
  'always:o2': truth(() => [0, 1, 0]),
  'always:o3': truth(() => [0, 0, 1]),
};
const LOGGED = truth((s) => LOGGING[s]);

describe('off-policy estimators', () => {
  it('formulas on a tiny hand-checked example', () => {
    const r = [1, 0, 2];
    const w = [2, 0.5, 1];
    expect(ips(r, w).value).toBeCloseTo((2 + 0 + 2) / 3, 12);
    expect(snips(r, w).value).toBeCloseTo(4 / 3.5, 12);
    expect(doublyRobust(r, w, [0.5, 0.5, 0.5], [1, 1, 1]).value).toBeCloseTo((1 + 2 * 0.5 + 1 - 0.25 + 1 + 1.5) / 3, 12);
    expect(effectiveSampleSize([1, 1, 1, 1])).toBe(4);
    expect(effectiveSampleSize([4, 0, 0, 0])).toBe(1);
  });

  it('95 % intervals cover each policy\'s true value in most of 20 seeded logs (IPS, SNIPS, DR)', () => {
    const seeds = Array.from({ length: 20 }, (_, i) => 1000 + i);
    const covered: Record<string, number> = {};
    const sums: Record<string, number> = {};
    const ses: Record<string, number> = {};
    let onPolicyCovered = 0;
    for (const seed of seeds) {
      const rows = simulatedLog(seed, 3000);
      const rep = evaluateOfferLog(rows, { seed, draws: 20, offers: OFFERS.map((o) => offer(o.id, { value: o.value })) });
      if (rep.onPolicy.ci95[0] <= LOGGED && LOGGED <= rep.onPolicy.ci95[1]) onPolicyCovered++;
      for (const [policy, value] of Object.entries(TRUE)) {
        for (const est of ['ips', 'snips', 'dr'] as const) {
          const e = rep.policies[policy][est];
          const key = `${policy}/${est}`;
          if (e.ci95[0] <= value && value <= e.ci95[1]) covered[key] = (covered[key] ?? 0) + 1;
          sums[key] = (sums[key] ?? 0) + e.value;
          ses[key] = (ses[key] ?? 0) + e.se;
        }
      }
    }
    for (const [key, n] of Object.entries(sums)) {
      expect(covered[key] ?? 0, key).toBeGreaterThanOrEqual(16); // nominal 19 of 20
      const policy = key.split('/')[0];
      // unbiased: the mean of 20 independent estimates within 3 standard errors of that mean
      expect(Math.abs(n / seeds.length - TRUE[policy]), key).toBeLessThan((3 * ses[key]) / seeds.length / Math.sqrt(seeds.length));
    }
    expect(onPolicyCovered).toBeGreaterThanOrEqual(16);
  });

  it('the learned policy fitted on the log prefers the offer that pays in each context', () => {
    const rows = simulatedLog(7, 6000);
    const rep = evaluateOfferLog(rows, { seed: 7, draws: 200, offers: OFFERS.map((o) => offer(o.id, { value: o.value })) });
    const best = truth((s, c) => {
      const ev = OFFERS.map((o, a) => RATE[s][c][a] * o.value);
      return ev.map((v) => (v === Math.max(...ev) ? 1 : 0));
    });
    expect(rep.policies.learned_greedy.dr.value).toBeGreaterThan(TRUE.uniform);
    expect(rep.policies.learned_greedy.dr.ci95[1]).toBeGreaterThan(best * 0.9);
    expect(rep.policies.learned.dr.value).toBeGreaterThan(TRUE.uniform);
  });
});

describe('offer decision log CSV', () => {
  it('round-trips through format and parse', () => {
    const rows = simulatedLog(3, 50).map((r, i) => ({
      ...r,
      time: Date.parse('2026-03-01T10:00:00Z') + i * 60_000,
      store: i % 2 ? 'S1' : null,
      candidates: i % 3 ? ['o1', 'o2', 'o3'] : null,
      exposure: i % 4 ? 0.25 + (i % 7) * 0.25 : null,
    }));
    rows[5] = { ...rows[5], decisionId: 'with,comma "quoted"', customerId: null, segment: 'guest' };
    const parsed = parseOfferLog(formatOfferLog(rows), 'log.csv');
    expect(parsed.rejects).toEqual([]);
    expect(parsed.rows).toEqual(rows.map((r, i) => ({ ...r, line: i + 2 })));
  });

  it('bad rows are counted with file and line; good rows around them are kept', () => {
    const text = [
      'Decision ID,Time,Segment,Channel,Offer ID,Position,Probability,Reward',
      'd1,2026-03-01T10:00:00Z,vip,web,o1,1,0.5,10',
      'd2,2026-03-01T10:00:00Z,vip,web,,1,0.5,0',
      'd3,2026-03-01T10:00:00Z,vip,web,o1,1,0,0',
      'd4,2026-03-01T10:00:00Z,vip,web,o1,1,1.5,0',
      'd5,yesterday,vip,web,o1,1,0.5,0',
      'd6,2026-03-01T10:00:00Z,platinum,web,o1,1,0.5,0',
      'd7,2026-03-01T10:00:00Z,vip,fax,o1,1,0.5,0',
      'd8,2026-03-01T10:00:00Z,vip,web,o1,0,0.5,0',
      'd9,2026-03-01T10:00:00Z,vip,web,o1,1,0.5,lots',
      'd10,2026-03-01T10:00:00Z,vip,web,o1,1,0.5',
      'd11,,,,o2,,0.25,0',
    ].join('\n');
    // the exposure column: a number ≥ 0, else the row is rejected
    const exp = parseOfferLog(['offer_id,probability,reward,exposure', 'o1,0.5,0,1.75', 'o1,0.5,0,', 'o1,0.5,0,-1', 'o1,0.5,0,much'].join('\n'), 'exp.csv');
    expect(exp.rows.map((r) => r.exposure)).toEqual([1.75, null]);
    expect(exp.rejects.map(({ line, reason }) => `${line}:${reason}`)).toEqual(['4:bad_exposure', '5:bad_exposure']);
    const parsed = parseOfferLog(text, 'bad.csv');
    expect(parsed.rows.map((r) => [r.decisionId, r.line, r.segment, r.channel, r.position])).toEqual([
      ['d1', 2, 'vip', 'web', 1],
      ['d11', 12, 'guest', 'web', 1],
    ]);
    expect(parsed.rejects.map(({ file, line, reason }) => `${file}:${line}:${reason}`)).toEqual([
      'bad.csv:3:missing_offer_id',
      'bad.csv:4:bad_probability',
      'bad.csv:5:bad_probability',
      'bad.csv:6:bad_date',
      'bad.csv:7:bad_segment',
      'bad.csv:8:bad_channel',
      'bad.csv:9:bad_position',
      'bad.csv:10:bad_reward',
      'bad.csv:11:malformed_row',
    ]);
    expect(parsed.rejected.bad_probability).toBe(2);
    expect(() => parseOfferLog('decision_id,offer_id\nd1,o1\n', 'nocols.csv')).toThrow(/line 1: missing columns probability, reward/);
  });

  it('stored decisions and accepted events become log rows', () => {
    const conv = storedLogRows(
      [
        {
          decisionId: 'x1',
          time: 1000,
          customerId: '42',
          context: { channel: 'store', store: 'S1', segment: 'vip', personalised: true },
          considered: [
            { offerId: 'o1', outcome: 'shown' },
            { offerId: 'o2', outcome: 'ranked_lower' },
            { offerId: 'o3', outcome: 'unsuitable' },
          ],
          shown: [
            { offerId: 'o1', position: 0, probability: 0.7 },
            { offerId: 'o2', position: 1, probability: 0.4 },
            { offerId: 'o3', position: -1, probability: 0.4 },
          ],
        },
        {
          decisionId: 'x2',
          time: 2000,
          customerId: null,
          context: { channel: 'web', segment: 'vip', personalised: false },
          considered: [{ offerId: 'gone', outcome: 'shown' }],
          shown: [{ offerId: 'gone', position: 0, probability: 0.5 }],
        },
      ],
      [
        { decisionId: 'x1', offerId: 'o1', type: 'accepted' },
        { decisionId: 'x1', offerId: 'o1', type: 'impression', exposure: 1.6 },
        { decisionId: 'x1', offerId: 'o2', type: 'impression', exposure: null },
        { decisionId: 'x2', offerId: 'gone', type: 'declined' },
      ],
      [offer('o1', { value: 12 }), offer('o2')],
    );
    expect(conv.unknownOffers).toBe(1);
    expect(conv.withoutProbability).toBe(1);
    // stored positions are 0-based (the service's), the log's 1-based: the top offer is position 1
    expect(conv.rows.map((r) => [r.decisionId, r.position, r.segment, r.channel, r.store, r.reward, r.accepted, r.candidates, r.exposure])).toEqual([
      ['x1', 1, 'vip', 'store', 'S1', 12, true, ['o1', 'o2'], 1.6],
      ['x1', 2, 'vip', 'store', 'S1', 0, false, ['o1', 'o2'], null],
      ['x2', 1, 'guest', 'web', null, 0, false, ['gone'], null],
    ]);
  });
});
