/**
 * Choosing the served model on a validation window (never on the test window): the components
 * (ALS, EASE when the catalogue allows, item-kNN, TIFU-KNN, trend tables of several half-lives) are
 * fitted once on the data before the window, every candidate list is scored on the window through
 * src/core/served-model.ts (the scorer the service uses), and the best NDCG@10 (ties: Recall@20) wins,
 * separately for the discovery list (purchased items excluded) and the repeat-inclusive list ("all").
 *
 * Candidates, in stages (each stage builds on the best of the one before):
 * - discovery: trend alone for each half-life (0 = no decay = popularity); each learned model alone;
 *   the best learned model + trend at several weights; that blend at every half-life; the best learned
 *   list plus a second learned model (two weights, the trend's weight kept or scaled with the learned mass);
 * - all: own items then trend (0 = repeat, reference_eval.py's baseline); own items then the chosen
 *   discovery list; TIFU-KNN at several α, alone and with a little trend; each learned model and the
 *   discovery list over all items (own items compete by score); the discovery list plus a fading repeat
 *   score of own items (ListSpec.ownWeight); the best TIFU-KNN plus the discovery list.
 * Popularity and repeat-then-trend are candidates, so a chosen list never scores below them on validation.
 *
 * Every candidate scores every item for every validation user, so the cost is users × items × candidates:
 * above `maxUsers` validation users per protocol (default SELECT_MAX_USERS), a seeded sample of that many
 * is scored, the same users for every candidate (at 20,000 users the standard error of an NDCG@10 mean is
 * under 0.003). Small data sets (the shared file: ~4,000 users) are scored whole.
 */
import {
  type BuyAgainRanking,
  type Components,
  combine,
  components,
  type LearnedKind,
  type ListSpec,
  type ServedSpec,
  topAccepted,
} from '../core/served-model.js';
import { mulberry32 } from '../core/random.js';
import { fitServed, listSpec, type ServedInput, type ServedParams, type ServedState } from '../models/served.js';
import { type BuyAgainFigures, evaluateBuyAgain } from './buy-again-eval.js';
import { ndcgAt, recallAt } from './metrics.js';
import { round4 } from './evaluate.js';
import type { EvalSplit } from './time-split.js';

/** Trend half-lives tried (days; 0 = no decay, i.e. popularity). */
export const TREND_HALF_LIVES = [0, 3, 7, 14, 30, 60];
const TREND_WEIGHTS = [0.1, 0.25, 0.5, 1, 2];
const TIFU_ALPHAS = [0.5, 0.7, 0.9];
/** Validation users scored per protocol when choosing; a seeded sample above this (see the top of the file). */
export const SELECT_MAX_USERS = 20_000;
/** Weights of a second learned model added to the best learned list (relative to the first's). */
const PAIR_WEIGHTS = [0.5, 1];
/** Own items against the discovery list (ListSpec.ownWeight, ownHalfLifeDays in days). */
const OWN_WEIGHTS = [0.5, 1];
const OWN_HALF_LIVES = [60, 120];

export interface CandidateScore {
  name: string;
  protocol: 'discovery' | 'all';
  'ndcg@10': number;
  'recall@20': number;
  users: number;
  spec: ListSpec;
  /**
   * Paired against the chosen list of its protocol, over the same validation customers: the mean NDCG@10
   * difference (candidate − chosen) and its standard error. A gap within about two standard errors is noise.
   */
  vsChosen?: { diff: number; se: number };
}

/** Per-customer NDCG@10 of each scored candidate (for the paired comparison). */
const perUser = new WeakMap<CandidateScore, Float64Array>();

/** Mean and standard error of the per-customer difference a − b. */
function pairedDiff(a: Float64Array, b: Float64Array): { diff: number; se: number } {
  const n = a.length;
  if (n < 2) return { diff: 0, se: 0 };
  let m = 0;
  for (let i = 0; i < n; i++) m += a[i] - b[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (a[i] - b[i] - m) ** 2;
  return { diff: round4(m), se: round4(Math.sqrt(v / (n - 1) / n)) };
}

export interface Selection {
  spec: ServedSpec;
  /** Validation figures of every candidate, in the order tried. */
  candidates: CandidateScore[];
  /** The chosen lists' validation figures. */
  validation: { discovery: CandidateScore; all: CandidateScore };
  /** The best trend-only and own-items-then-trend lists on validation (baselines reported beside). */
  baselines: { trend: ServedSpec; repeatTrend: ServedSpec };
  state: ServedState;
  /** The buy-again protocol on validation (rhythm formula `buy_again`, `repeat`, `served`). */
  buyAgain: Record<string, BuyAgainFigures>;
  fit_s: Record<string, number>;
  skipped: Record<string, string>;
  select_s: number;
  /** Validation users per protocol with something to find, and how many of them were scored (a sample above maxUsers). */
  users: Record<'discovery' | 'all', { of: number; scored: number }>;
}

/** The served model's inputs from an evaluation split. */
export function splitInput(split: EvalSplit): ServedInput {
  return { reference: split.reference, weighted: () => split.weighted, purchases: split.reference.purchases, now: split.cutoff };
}

const ndcg10 = ndcgAt(10);
const recall20 = recallAt(20);

/**
 * The users of a protocol with something to find in the window; at most `max` of them: a seeded sample
 * (partial Fisher–Yates), in ascending order, the same for a given split and `max`.
 */
export function scoredUsers(split: EvalSplit, protocol: 'discovery' | 'all', max: number): { users: Int32Array; of: number } {
  const all = protocol === 'discovery' ? split.discoveryUsers : split.allUsers;
  const truth = protocol === 'discovery' ? split.truthNew : split.truthAll;
  const withTruth = all.filter((u) => (truth.get(u)?.size ?? 0) > 0);
  if (!(max >= 1)) throw new RangeError(`maxUsers must be ≥ 1 (got ${max})`);
  if (withTruth.length <= max) return { users: withTruth, of: withTruth.length };
  const pick = withTruth.slice();
  const rnd = mulberry32(0x5e1ec7);
  for (let i = 0; i < max; i++) {
    const j = i + Math.floor(rnd() * (pick.length - i));
    const t = pick[i];
    pick[i] = pick[j];
    pick[j] = t;
  }
  return { users: pick.slice(0, max).sort(), of: withTruth.length };
}

/** Scores candidate lists of one protocol on the given users of the split (default: all of them; one pass over them). */
export function scoreCandidates(
  st: ServedState,
  split: EvalSplit,
  protocol: 'discovery' | 'all',
  specs: ListSpec[],
  users: Int32Array = protocol === 'discovery' ? split.discoveryUsers : split.allUsers,
): CandidateScore[] {
  const truth = protocol === 'discovery' ? split.truthNew : split.truthAll;
  const sums = specs.map(() => ({ n: 0, r: 0 }));
  let scored = 0;
  for (const u of users) if (truth.get(u)?.size) scored++;
  const per = specs.map(() => new Float64Array(scored));
  const out = new Float64Array(st.tables.nItems);
  const mask = new Uint8Array(st.tables.nItems);
  let count = 0;
  for (const u of users) {
    const t = truth.get(u);
    if (!t || t.size === 0) continue;
    count++;
    const person = st.person(u);
    const comps: Components = components(st.tables, specs, person);
    if (protocol === 'discovery') for (let q = 0; q < person.items.length; q++) mask[person.items[q]] = 1;
    for (let c = 0; c < specs.length; c++) {
      const top = topAccepted(combine(st.tables, specs[c], person, comps, out), 20, (i) => mask[i] === 0);
      const ranked = top.map((x) => x.id);
      const g = ndcg10(t, ranked);
      per[c][count - 1] = g;
      sums[c].n += g;
      sums[c].r += recall20(t, ranked);
    }
    for (let q = 0; q < person.items.length; q++) mask[person.items[q]] = 0;
  }
  return specs.map((spec, c) => {
    const score: CandidateScore = {
      name: spec.name,
      protocol,
      'ndcg@10': round4(count ? sums[c].n / count : 0),
      'recall@20': round4(count ? sums[c].r / count : 0),
      users: count,
      spec,
    };
    perUser.set(score, per[c]);
    return score;
  });
}

/** Best by NDCG@10, then Recall@20, then the earlier (simpler) candidate. */
function best(scores: CandidateScore[]): CandidateScore {
  let b = scores[0];
  for (const s of scores) {
    if (s['ndcg@10'] > b['ndcg@10'] || (s['ndcg@10'] === b['ndcg@10'] && s['recall@20'] > b['recall@20'])) b = s;
  }
  return b;
}

const trendName = (h: number) => (h > 0 ? `trend${h}` : 'popularity');

export interface SelectOptions {
  params: ServedParams;
  /** Learned models to consider (default: als, ease, item_knn). */
  learned?: LearnedKind[];
  /** Consider TIFU-KNN (default true). */
  tifu?: boolean;
  /** Learned models already fitted on this split's training part with `params`. */
  prefit?: Parameters<typeof fitServed>[3];
  /** Validation users scored per protocol (default SELECT_MAX_USERS): a seeded sample above it. */
  maxUsers?: number;
}

/** Fits the components on the split's training part and chooses both lists on its test part (the validation window). */
export async function selectServed(split: EvalSplit, o: SelectOptions): Promise<Selection> {
  const learnedKinds = o.learned ?? ['als', 'ease', 'item_knn'];
  const useTifu = o.tifu ?? true;
  const st = await fitServed(splitInput(split), { learned: learnedKinds, tifu: useTifu, trends: TREND_HALF_LIVES }, o.params, o.prefit);
  const t0 = performance.now();
  const learned = learnedKinds.filter((k) => !(k in st.skipped));
  const all: CandidateScore[] = [];
  const maxUsers = o.maxUsers ?? SELECT_MAX_USERS;
  const scored = { discovery: scoredUsers(split, 'discovery', maxUsers), all: scoredUsers(split, 'all', maxUsers) };
  const run = (protocol: 'discovery' | 'all', specs: ListSpec[]) => {
    const s = scoreCandidates(st, split, protocol, specs, scored[protocol].users);
    all.push(...s);
    return s;
  };

  // discovery: trend alone, learned alone (TIFU at α = 0 is its neighbours' part: own items are excluded)
  const trends = run('discovery', TREND_HALF_LIVES.map((h) => listSpec(trendName(h), { trendHalfLifeDays: h, trendWeight: 1 })));
  const bestTrend = best(trends);
  const h = bestTrend.spec.trendHalfLifeDays;
  const alone: ListSpec[] = learned.map((m) => listSpec(m, { learned: m, learnedWeight: 1 }));
  if (useTifu) alone.push(listSpec('tifu_knn', { tifuWeight: 1, tifuAlpha: 0 }));
  const singles = run('discovery', alone);
  // every learned model with the best trend at several weights
  const withTrend: ListSpec[] = [];
  for (const a of alone) {
    for (const w of TREND_WEIGHTS) withTrend.push({ ...a, name: `${a.name}+${w}·${trendName(h)}`, trendHalfLifeDays: h, trendWeight: w });
  }
  const blends = run('discovery', withTrend);
  const bestBlend = best(blends);
  const rescan = run(
    'discovery',
    TREND_HALF_LIVES.filter((x) => x !== h).map((x) => ({
      ...bestBlend.spec,
      name: `${bestBlend.spec.name.split('+')[0]}+${bestBlend.spec.trendWeight}·${trendName(x)}`,
      trendHalfLifeDays: x,
    })),
  );
  // the best learned list with a second learned model (normalised alike) added at two weights, the trend's
  // weight kept or scaled by the learned mass: models that validation ranks close together hedge each other
  const bestLearned = best([...singles, ...blends, ...rescan].filter((c) => c.spec.learned !== 'none'));
  const pairs: ListSpec[] = [];
  if (bestLearned) {
    const b = bestLearned.spec;
    for (const m2 of learned) {
      if (m2 === b.learned) continue;
      for (const w2 of PAIR_WEIGHTS) {
        for (const tw of new Set([b.trendWeight, b.trendWeight * (1 + w2)])) {
          const trendPart = tw > 0 ? `+${Math.round(tw * 1000) / 1000}·${trendName(b.trendHalfLifeDays)}` : '';
          pairs.push({ ...b, name: `${b.learned}+${w2}·${m2}${trendPart}`, learned2: m2, learned2Weight: w2 * b.learnedWeight, trendWeight: tw });
        }
      }
    }
  }
  const paired = run('discovery', pairs);
  const discovery = best([...trends, ...singles, ...blends, ...rescan, ...paired]);

  // all: own items then trend (h = 0: repeat), own items then the discovery list, TIFU-KNN
  const repeatTrends = run(
    'all',
    TREND_HALF_LIVES.map((x) => listSpec(x > 0 ? `repeat>${trendName(x)}` : 'repeat', { trendHalfLifeDays: x, trendWeight: x > 0 ? 1 : 0, ownedFirst: true })),
  );
  const bestRepeat = best(repeatTrends);
  const more: ListSpec[] = [{ ...discovery.spec, name: `repeat>${discovery.spec.name}`, ownedFirst: true }];
  if (useTifu) {
    const ha = bestRepeat.spec.trendHalfLifeDays;
    for (const a of TIFU_ALPHAS) {
      more.push(listSpec(`tifu_knn[α=${a}]`, { tifuWeight: 1, tifuAlpha: a }));
      for (const w of [0.1, 0.3]) more.push(listSpec(`tifu_knn[α=${a}]+${w}·${trendName(ha)}`, { tifuWeight: 1, tifuAlpha: a, trendHalfLifeDays: ha, trendWeight: w }));
    }
  }
  // the learned lists on all items (own items compete by their scores: fits rare repeats)
  for (const a of alone) if (a.learned !== 'none') more.push({ ...a, name: `${a.name} (all items)` });
  more.push({ ...discovery.spec, name: `${discovery.spec.name} (all items)` });
  // own items compete with the discovery list by a repeat score that fades with the time since they were
  // last bought (relative to the customer's latest purchase): stale one-off purchases give way to new picks
  for (const hw of OWN_HALF_LIVES) {
    for (const w of OWN_WEIGHTS) more.push({ ...discovery.spec, name: `own[${w}·log2(1+n)·2^(−age/${hw})]+(${discovery.spec.name})`, ownWeight: w, ownHalfLifeDays: hw, ownedFirst: false });
  }
  const others = run('all', more);
  // TIFU-KNN with the discovery list's learned model and trend (its own items then compete with the learned picks)
  const bestTifu = best(others.filter((c) => c.spec.tifuWeight !== 0 && c.spec.learnedWeight === 0));
  const mixes: ListSpec[] = [];
  if (useTifu && bestTifu && discovery.spec.learned !== 'none') {
    for (const w of [0.25, 0.5, 1]) {
      mixes.push({ ...discovery.spec, name: `tifu_knn[α=${bestTifu.spec.tifuAlpha}]+${w}·(${discovery.spec.name})`, tifuWeight: 1, tifuAlpha: bestTifu.spec.tifuAlpha, learnedWeight: w * discovery.spec.learnedWeight, learned2Weight: w * (discovery.spec.learned2Weight ?? 0), trendWeight: w * discovery.spec.trendWeight, ownedFirst: false });
    }
  }
  const mixed = mixes.length ? run('all', mixes) : [];
  const chosenAll = best([...repeatTrends, ...others, ...mixed]);

  // buy again: the rhythm formula, repeat or the chosen all-list, on the buy-again protocol
  const chosen: ServedSpec = { discovery: discovery.spec, all: chosenAll.spec };
  const ba = evaluateBuyAgain(split, { state: st, spec: chosen });
  const names: Record<string, BuyAgainRanking> = { buy_again: 'rhythm', repeat: 'repeat', served: 'served' };
  let baBest = 'buy_again';
  for (const k of Object.keys(ba)) if (ba[k]['ndcg@10'] > ba[baBest]['ndcg@10']) baBest = k;
  chosen.buyAgain = names[baBest];

  for (const c of all) {
    const chosenOne = c.protocol === 'discovery' ? discovery : chosenAll;
    const a = perUser.get(c);
    const b = perUser.get(chosenOne);
    if (a && b && a.length === b.length) c.vsChosen = pairedDiff(a, b);
  }
  const trendSpecOf = (s: ListSpec): ServedSpec => ({ discovery: s, all: s });
  return {
    spec: chosen,
    buyAgain: ba,
    candidates: all,
    validation: { discovery, all: chosenAll },
    baselines: {
      trend: trendSpecOf(bestTrend.spec),
      repeatTrend: { discovery: bestTrend.spec, all: bestRepeat.spec },
    },
    state: st,
    fit_s: st.fit_s,
    skipped: st.skipped,
    select_s: Math.round((performance.now() - t0) / 10) / 100,
    users: {
      discovery: { of: scored.discovery.of, scored: scored.discovery.users.length },
      all: { of: scored.all.of, scored: scored.all.users.length },
    },
  };
}
