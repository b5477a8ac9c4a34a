/**
 * Off-policy evaluation of offer policies on a decision log (`npm run evaluate:offers`).
 *
 * Unit: one decision's TOP offer (position 1 rows; rows at lower positions are counted and left out). Candidate
 * policies choose among the decision's candidates (the log's `candidates` column, else every offer in the log):
 *   uniform        each candidate with probability 1/|C|
 *   value_greedy   the candidate of highest value × weight
 *   learned        the service's decide (Thompson sampling, holdout share as given) with response counts fitted on
 *                  the log; its top-offer distribution from `topOfferDistribution`
 *   learned_greedy the same posterior, ranked by posterior mean (no exploration)
 *   always:<id>    that offer whenever it is a candidate, otherwise uniform among the candidates (so that every
 *                  policy is a distribution over the candidates in every decision, as SNIPS assumes)
 * Estimators and intervals: ./off-policy.ts. Cross-fitting: decisions are split in two folds by a hash of their id;
 * the reward model of DR and the learned policy's counts for one fold are fitted on the other fold only.
 *
 * Reward model q̂(x, a): mean reward of the offer in the cell segment × channel, shrunk toward its mean in the
 * segment, that toward the offer's mean, that toward the mean of all rewards (20 pseudo-observations at each level).
 */
import { DECIDE_DEFAULTS, topOfferDistribution } from '../core/offers/decide.js';
import { ResponseCounts } from '../core/offers/response-counts.js';
import { statsSegment } from '../core/offers/propensity.js';
import type { DecisionContext, DecisionSubject, Offer } from '../core/offers/types.js';
import { mulberry32 } from '../core/random.js';
import { doublyRobust, effectiveSampleSize, ips, onPolicyValue, snips, type Estimate } from './off-policy.js';
import type { OfferLogRow } from './offer-log.js';

export interface OfferEvaluationOptions {
  seed?: number;
  /** Holdout share of the evaluated learned policy (default 0). */
  holdoutShare?: number;
  /** Monte Carlo draws of the learned policy's top-offer distribution per decision (default 500). */
  draws?: number;
  /** Offer definitions (value, weight, targets); otherwise taken from the log. */
  offers?: readonly Offer[];
  /** Evaluate "always offer X" for every offer (default true). */
  alwaysPolicies?: boolean;
}

export interface PolicyEstimates {
  ips: Estimate;
  snips: Estimate;
  dr: Estimate;
  effectiveSampleSize: number;
}

export interface OfferEvaluationReport {
  decisions: number;
  skippedLowerPositions: number;
  offers: { id: string; value: number; shown: number }[];
  onPolicy: Estimate;
  policies: Record<string, PolicyEstimates>;
}

const SHRINK = 20;

/** FNV-1a of a string: the fold of a decision. */
function foldOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) & 1;
}

interface RewardModel {
  q(row: OfferLogRow, offerId: string): number;
}

/** The shrunk cell-mean reward model (see the module comment). */
export function fitRewardModel(rows: readonly OfferLogRow[]): RewardModel {
  const sums = new Map<string, [number, number]>();
  const add = (k: string, r: number): void => {
    const s = sums.get(k);
    if (s) {
      s[0] += r;
      s[1]++;
    } else sums.set(k, [r, 1]);
  };
  let total = 0;
  for (const r of rows) {
    total += r.reward;
    add(`o|${r.offerId}`, r.reward);
    add(`s|${r.offerId}|${r.segment}`, r.reward);
    add(`c|${r.offerId}|${r.segment}|${r.channel}`, r.reward);
  }
  const global = rows.length > 0 ? total / rows.length : 0;
  const shrink = (k: string, toward: number): number => {
    const s = sums.get(k);
    return s ? (SHRINK * toward + s[0]) / (SHRINK + s[1]) : toward;
  };
  return {
    q(row, offerId) {
      const o = shrink(`o|${offerId}`, global);
      const s = shrink(`s|${offerId}|${row.segment}`, o);
      return shrink(`c|${offerId}|${row.segment}|${row.channel}`, s);
    },
  };
}

/** Offers as the evaluator knows them: given definitions, else id and value from the log. */
function offersOf(rows: readonly OfferLogRow[], given: readonly Offer[] | undefined): Offer[] {
  const ids = new Set<string>();
  const values = new Map<string, [number, number]>();
  for (const r of rows) {
    ids.add(r.offerId);
    for (const c of r.candidates ?? []) ids.add(c);
    const v = r.value ?? (r.accepted ? r.reward : null);
    if (v !== null) {
      const s = values.get(r.offerId) ?? [0, 0];
      values.set(r.offerId, [s[0] + v, s[1] + 1]);
    }
  }
  const byId = new Map((given ?? []).map((o) => [o.id, o]));
  return [...ids].sort().map((id) => {
    const g = byId.get(id);
    const v = values.get(id);
    return {
      id,
      title: g?.title ?? id,
      kind: g?.kind ?? 'product',
      value: g?.value ?? (v ? v[0] / v[1] : 0),
      targets: g?.targets ?? { skus: [], categories: [] },
      channels: [],
      stores: [],
      startsAt: null,
      endsAt: null,
      eligibility: {},
      contact: {},
      weight: g?.weight ?? 1,
    };
  });
}

/**
 * The subject of a logged decision for the learned policy. The log does not hold the customer's affinity to every
 * candidate: a personalised subject is given, for each offer, the affinity whose lift is the offer's mean exposure
 * in the fold's personalised rows (`meanLift`), so propensity = μ·ḡ, the offer's mean rate over those impressions
 * (as the cell's plain rate was when impressions counted 1; a log without exposures gives lift 1 throughout).
 */
function subjectOf(r: OfferLogRow, meanLift: Map<string, number>): DecisionSubject {
  const slope = DECIDE_DEFAULTS.affinitySlope;
  return {
    customerId: r.customerId,
    personalised: r.segment !== 'guest',
    consent: {},
    segment: r.segment === 'guest' ? null : r.segment,
    orders: 0,
    spend: 0,
    daysSinceLastPurchase: null,
    affinity: (o) => {
      const g = meanLift.get(o.id);
      return g === undefined || g === 1 || !(slope > 0) ? null : { score: 0.5 + (g - 1) / slope };
    },
  };
}

/** Each offer's mean exposure over the personalised rows of `rows` (rows without one count 1). */
function meanLifts(rows: readonly OfferLogRow[]): Map<string, number> {
  const sum = new Map<string, [number, number]>();
  for (const r of rows) {
    if (r.segment === 'guest') continue;
    const s = sum.get(r.offerId) ?? [0, 0];
    s[0] += r.exposure ?? 1;
    s[1]++;
    sum.set(r.offerId, s);
  }
  return new Map([...sum].map(([id, [g, n]]) => [id, g / n]));
}

export function evaluateOfferLog(allRows: readonly OfferLogRow[], opts: OfferEvaluationOptions = {}): OfferEvaluationReport {
  const rows = allRows.filter((r) => r.position === 1);
  const offers = offersOf(allRows, opts.offers);
  const byId = new Map(offers.map((o) => [o.id, o]));
  const folds = [0, 1].map((k) => rows.filter((r) => foldOf(r.decisionId) !== k));
  const models = folds.map(fitRewardModel);
  const counts = folds.map((train) => {
    const c = new ResponseCounts();
    // each impression counted as the policy counted it (its exposure: affinity lift; 1 when the log does not say)
    // in the cell the policy's decision counted it in (statsSegment: a known customer's non-personalised row is 'unsegmented')
    for (const r of train) c.record(r.offerId, statsSegment({ personalised: r.segment !== 'guest', segment: r.segment === 'guest' ? null : r.segment, customerId: r.customerId }), r.channel, r.accepted, r.exposure ?? 1);
    return c;
  });
  const lifts = folds.map(meanLifts);
  const random = mulberry32((opts.seed ?? 1) >>> 0);
  const draws = opts.draws ?? 500;
  const policyNames = ['uniform', 'value_greedy', 'learned', 'learned_greedy', ...(opts.alwaysPolicies === false ? [] : offers.map((o) => `always:${o.id}`))];
  const n = rows.length;
  const w = new Map(policyNames.map((p) => [p, new Float64Array(n)]));
  const qPol = new Map(policyNames.map((p) => [p, new Float64Array(n)]));
  const qLog = new Float64Array(n);
  const rewards = Float64Array.from(rows, (r) => r.reward);
  rows.forEach((r, t) => {
    const k = foldOf(r.decisionId);
    const model = models[k];
    const candIds = new Set((r.candidates ?? offers.map((o) => o.id)).filter((id) => byId.has(id)));
    candIds.add(r.offerId);
    const cands = [...candIds].map((id) => byId.get(id)!);
    const q = new Map(cands.map((o) => [o.id, model.q(r, o.id)]));
    qLog[t] = q.get(r.offerId)!;
    const ctx: DecisionContext = {
      channel: r.channel,
      store: r.store,
      now: r.time ?? 0,
      limit: 1,
      inStock: () => true,
      contacts: () => undefined,
      acceptances: () => 0,
      channelConsent: {},
      holdoutShare: opts.holdoutShare ?? 0,
      random,
    };
    const dist = (name: string): Map<string, number> => {
      if (name === 'uniform') return new Map(cands.map((o) => [o.id, 1 / cands.length]));
      if (name === 'value_greedy') {
        let best = cands[0];
        for (const o of cands) if (o.value * o.weight > best.value * best.weight) best = o;
        return new Map([[best.id, 1]]);
      }
      if (name === 'learned') return topOfferDistribution(cands, subjectOf(r, lifts[k]), ctx, counts[k], {}, draws);
      if (name === 'learned_greedy') return topOfferDistribution(cands, subjectOf(r, lifts[k]), { ...ctx, holdoutShare: 0 }, counts[k], { ranking: 'mean' }, draws);
      const id = name.slice('always:'.length);
      return candIds.has(id) ? new Map([[id, 1]]) : dist('uniform');
    };
    for (const name of policyNames) {
      const pi = dist(name);
      w.get(name)![t] = (pi.get(r.offerId) ?? 0) / r.probability;
      let qp = 0;
      for (const [id, p] of pi) qp += p * (q.get(id) ?? 0);
      qPol.get(name)![t] = qp;
    }
  });
  const shown = new Map<string, number>();
  for (const r of rows) shown.set(r.offerId, (shown.get(r.offerId) ?? 0) + 1);
  return {
    decisions: n,
    skippedLowerPositions: allRows.length - n,
    offers: offers.map((o) => ({ id: o.id, value: o.value, shown: shown.get(o.id) ?? 0 })),
    onPolicy: onPolicyValue(rewards),
    policies: Object.fromEntries(
      policyNames.map((name) => [
        name,
        {
          ips: ips(rewards, w.get(name)!),
          snips: snips(rewards, w.get(name)!),
          dr: doublyRobust(rewards, w.get(name)!, qLog, qPol.get(name)!),
          effectiveSampleSize: effectiveSampleSize(w.get(name)!),
        },
      ]),
    ),
  };
}

