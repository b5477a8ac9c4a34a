/**
 * One evaluation run over history lines, validation first, test once. Shared by `npm run evaluate`
 * and `npm run train -- --evaluate`:
 * 1. split at the cutoff; carve a validation window from the training period (the last N days before
 *    the cutoff, N = the test window's length unless given);
 * 2. on validation: fit on the data before the window and score the window: each model's figures,
 *    `--grid` (the best parameters per model, by NDCG@10), and the served model's two lists
 *    (src/eval/select.ts);
 * 3. refit on all training data with what was chosen and score the test window once: each model,
 *    the served model (through src/core/served-model.ts, the service's scorer), and the trend-only
 *    and repeat-then-trend baselines with their validation-chosen half-lives.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HistoryLine } from '../core/records.js';
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../core/recommender.js';
import { emptyBatch } from '../core/top-k.js';
import type { ServedSpec } from '../core/served-model.js';
import { AlsRecommender } from '../models/als.js';
import { adoptFrom, type BackgroundJob, backgroundFits } from '../models/background-fits.js';
import { EaseRecommender } from '../models/ease.js';
import { FbtRecommender } from '../models/fbt.js';
import { ItemKnnRecommender } from '../models/item-knn.js';
import { EASE_LIST_LENGTH, fitServed, needsOf, type ServedParams, ServedRecommender, type ServedState, tifuSpec } from '../models/served.js';
import { dataKind, modelEntry, type Params } from '../train/model-registry.js';
import { Stages } from '../train/stages.js';
import type { TrainConfig } from '../train/train-config.js';
import { evaluateRecommender, type ModelResult, fitAndEvaluate, type ScoredUsers } from './evaluate.js';
import type { EvaluationReport, ValidationFigures } from './evaluation-report.js';
import { type BuyAgainFigures, evaluateBuyAgain } from './buy-again-eval.js';
import { type EvalRun, evalRuns } from './grid.js';
import { reportHtml } from './report-html.js';
import { SELECT_MAX_USERS, type Selection, scoredUsers, selectServed, splitInput } from './select.js';
import { type EvalSplit, isProtocolRow, resolveCutoff, timeSplit } from './time-split.js';

const DAY_MS = 86_400_000;

/**
 * Splits and fitted models shared by the runs of one process: a split at the same cutoff (same lines,
 * same weighting) is built once, and a model fitted on it with the same parameters is fitted once.
 * `train --evaluate` (no --cutoff, holdout = validation days) chooses the bundle's served model on the
 * last N days and tests the evaluation on the same N days: the components fitted for the choice are the
 * models the test scores (each is scored on that window's truth once per purpose; nothing is chosen on
 * the evaluation's test window).
 */
/** A fitted model, and what scores it in evaluation when that was done beside the fit (ScoredInAdvance). */
interface Claimed {
  model: Recommender;
  fit_s: number;
  scorer?: Recommender;
}

/**
 * A model whose evaluation lists were computed in advance (by the background worker, with the model's
 * own `recommend`): answers `recommend` for those customers from them, anything else from the model.
 * Each customer's list depends on that customer alone, so this is what the model would return.
 */
class ScoredInAdvance implements Recommender {
  readonly name: string;
  private readonly rows: { exclude: boolean; at: Map<number, number>; res: BatchResult }[];

  constructor(
    private readonly model: Recommender,
    protocols: { users: Int32Array; exclude: boolean }[],
    results: BatchResult[],
  ) {
    this.name = model.name;
    this.rows = protocols.map((p, i) => ({ exclude: p.exclude, at: new Map(Array.from(p.users, (u, r) => [u, r])), res: results[i] }));
  }

  async recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult> {
    const src = this.rows.find((r) => r.exclude === !!options?.exclude);
    if (!src || k !== src.res.k || options?.excludeRows || Array.from(customers).some((u) => !src.at.has(u))) return this.model.recommend(customers, k, options);
    const out = emptyBatch(customers.length, k);
    for (let n = 0; n < customers.length; n++) {
      const r = src.at.get(customers[n])!;
      out.ids.set(src.res.ids.subarray(r * k, r * k + k), n * k);
      out.scores.set(src.res.scores.subarray(r * k, r * k + k), n * k);
    }
    return out;
  }

  fit(data: TrainingData): Promise<void> {
    return this.model.fit(data);
  }
  similarItems(items: ArrayLike<number>, k: number): Promise<BatchResult> {
    return this.model.similarItems(items, k);
  }
  recommendForItems(items: ArrayLike<number>, w: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Promise<BatchResult> {
    return this.model.recommendForItems(items, w, k, exclude);
  }
  save(): ReturnType<Recommender['save']> {
    return this.model.save();
  }
  load(saved: Parameters<Recommender['load']>[0]): void {
    this.model.load(saved);
  }
}

/** A background fit whose result the model takes over with `adopt` (item-kNN's and FBT's lists). */
function adopting<V>(
  r: { adopt(value: V, data: TrainingData): void } & Recommender,
  data: TrainingData,
  job: BackgroundJob<V>,
): { job: BackgroundJob; finish: () => Promise<Claimed> } {
  return {
    job,
    finish: async () => ({ model: r, fit_s: await adoptFrom(job, r, data) }),
  };
}

export class FitCache {
  private readonly splits = new Map<string, EvalSplit>();
  private readonly fits = new WeakMap<EvalSplit, Map<string, { model: Recommender; fit_s: number }>>();
  private readonly pending = new WeakMap<EvalSplit, Map<string, { job: BackgroundJob; finish: () => Promise<Claimed> }>>();

  split(lines: readonly HistoryLine[], cutoff: number, weighting: TrainConfig['weighting']): EvalSplit {
    const key = `${lines.length}|${cutoff}|${JSON.stringify(weighting ?? null)}`;
    let sp = this.splits.get(key);
    if (!sp) this.splits.set(key, (sp = timeSplit(lines, cutoff, weighting)));
    return sp;
  }

  /** Lets every split and its fits go (train without --evaluate: the models are fitted on all of the history next). */
  clear(): void {
    this.splits.clear();
  }

  fitted(split: EvalSplit, model: string, params: Params): { model: Recommender; fit_s: number } | undefined {
    return this.fits.get(split)?.get(`${model}|${JSON.stringify(params)}`);
  }

  keep(split: EvalSplit, model: string, params: Params | undefined, r: Recommender, fit_s: number): void {
    if (!params) return;
    let m = this.fits.get(split);
    if (!m) this.fits.set(split, (m = new Map()));
    m.set(`${model}|${JSON.stringify(params)}`, { model: r, fit_s });
  }

  /**
   * Starts fitting `model` with `params` on `split` in the background (EASE's weights, TIFU-KNN's vectors, item-kNN's and FBT's lists:
   * src/models/background-fits.ts); `claim` returns it, fitted, when needed. False for other models and
   * for a catalogue EASE refuses (its run then reports why, as without a prefetch).
   */
  prefetch(split: EvalSplit, model: string, params: Params, models: Record<string, Params>, lists = true): boolean {
    const key = `${model}|${JSON.stringify(params)}`;
    if (this.fitted(split, model, params) || this.pending.get(split)?.has(key)) return false;
    const entry = modelEntry(model);
    if (!entry?.create || !['ease', 'tifu_knn', 'item_knn', 'fbt'].includes(model)) return false;
    const r = entry.create(params, models);
    const data = dataKind(entry, params) === 'weighted' ? split.weighted : split.reference;
    let p: { job: BackgroundJob; finish: () => Promise<Claimed> };
    if (r instanceof EaseRecommender) {
      if (catalogueLimit(r, data.counts.cols)) return false;
      // the worker scores the evaluation's customers too (the same recommend, on its thread)
      const protocols = [
        { users: split.discoveryUsers, exclude: true },
        { users: split.allUsers, exclude: false },
      ];
      // and the neighbour lists the served model's selection reads (not on the test split: the served model
      // computes them there only when its lists use EASE)
      const job = backgroundFits().submit({
        kind: 'ease-scored',
        counts: data.counts,
        params: r.params,
        excludeRows: split.reference.weights,
        protocols,
        ...(lists ? { listLength: EASE_LIST_LENGTH } : {}),
      });
      p = {
        job,
        finish: async () => {
          const res = await job.result();
          r.adopt(res.value.b, data);
          if (res.value.lists) r.keepNeighbourLists(EASE_LIST_LENGTH, res.value.lists);
          return { model: r, fit_s: res.seconds, scorer: new ScoredInAdvance(r, protocols, res.value.results) };
        },
      };
    } else if (r instanceof FbtRecommender) {
      p = adopting(r, data, backgroundFits().submit({ kind: 'fbt', baskets: data.baskets, params: r.params }));
    } else if (r instanceof ItemKnnRecommender) {
      p = adopting(r, data, backgroundFits().submit({ kind: 'knn', counts: data.counts, weights: r.params.input === 'weights' ? data.weights : null, params: r.params }));
    } else if (r instanceof ServedRecommender) {
      const purchases = (data as Partial<EvalSplit['reference']>).purchases;
      if (!purchases) return false;
      const job = backgroundFits().submit({
        kind: 'tifu',
        lines: { customer: purchases.customer, order: purchases.order, item: purchases.item, time: purchases.time },
        customers: data.counts.rows,
        nItems: data.counts.cols,
        params: r.tifuParams,
      });
      p = {
        job,
        finish: async () => {
          const res = await job.result();
          const t0 = performance.now();
          await r.fitWith(data, { tifu: res.value });
          return { model: r, fit_s: round2(res.seconds + (performance.now() - t0) / 1000) };
        },
      };
    } else return false;
    let m = this.pending.get(split);
    if (!m) this.pending.set(split, (m = new Map()));
    m.set(key, p);
    return true;
  }

  /** Whether a prefetched fit is ready or being computed by the worker ('none': no prefetch, or taken already). */
  pendingState(split: EvalSplit, model: string, params: Params): 'none' | 'queued' | 'running' | 'done' {
    const p = this.pending.get(split)?.get(`${model}|${JSON.stringify(params)}`);
    return !p ? 'none' : p.job.state === 'done' ? 'done' : p.job.state === 'running' ? 'running' : 'queued';
  }

  /** A fitted model (fitted(), or a prefetched fit awaited and kept), or undefined. */
  async claim(split: EvalSplit, model: string, params: Params): Promise<Claimed | undefined> {
    const done = this.fitted(split, model, params);
    if (done) return done;
    const key = `${model}|${JSON.stringify(params)}`;
    const p = this.pending.get(split)?.get(key);
    if (!p) return undefined;
    this.pending.get(split)!.delete(key);
    const r = await p.finish();
    this.keep(split, model, params, r.model, r.fit_s);
    return r;
  }

  /** The served components fitted on `split` (selection's state) as the registry's models. */
  keepServed(split: EvalSplit, st: ServedState, params: ServedParams): void {
    if (st.als) this.keep(split, 'als', params.als as Params, st.als, st.fit_s.als ?? 0);
    if (st.models.ease) this.keep(split, 'ease', params.ease as Params, st.models.ease, st.fit_s.ease ?? 0);
    if (st.models.item_knn) this.keep(split, 'item_knn', params.item_knn as Params, st.models.item_knn, st.fit_s.item_knn ?? 0);
    if (st.tifu && params.tifu_knn) {
      const alpha = Number((params.tifu_knn as Params).alpha ?? 0.7);
      this.keep(split, 'tifu_knn', params.tifu_knn as Params, ServedRecommender.fromState('tifu_knn', tifuSpec(alpha), st), st.fit_s.tifu_knn ?? 0);
    }
  }

  /** Fitted ALS / item-kNN / EASE / TIFU vectors on `split` with these parameters, for fitServed. */
  prefit(split: EvalSplit, params: ServedParams) {
    const get = (m: string, p: unknown) => (p ? this.fitted(split, m, p as Params)?.model : undefined);
    const als = get('als', params.als);
    const knn = get('item_knn', params.item_knn);
    const ease = get('ease', params.ease);
    const tifu = get('tifu_knn', params.tifu_knn);
    return {
      als: als instanceof AlsRecommender ? als : undefined,
      item_knn: knn instanceof ItemKnnRecommender ? knn : undefined,
      ease: ease instanceof EaseRecommender ? ease : undefined,
      tifu: tifu instanceof ServedRecommender && tifu.state?.tifu ? tifu.state.tifu : undefined,
    };
  }
}

export interface EvaluationOptions {
  cutoff?: string;
  holdoutDays?: number;
  /** Length of the validation window in days (default: the test window's). */
  validationDays?: number;
  models: string[];
  config: TrainConfig;
  /** Explicit runs (e.g. a hyperparameter grid); default: each of `models` with its configured parameters. */
  runs?: EvalRun[];
  source: string;
  stages?: Stages;
  /** Splits and fits shared with other runs of the process (e.g. training's choice of the served model). */
  fits?: FitCache;
  /**
   * Customers scored per protocol on the validation and the test window (default SELECT_MAX_USERS): above it a
   * seeded sample of that many (src/eval/select.ts scoredUsers), the same users for every model; the report says
   * how many of how many (`testUsers`, `validation.selectUsers`). Small data sets are scored whole.
   */
  maxUsers?: number;
}

/** The customers of each protocol to score on `split`: all of them up to `max`, else a seeded sample of `max`. */
export function sampleUsers(split: EvalSplit, max: number): { users: ScoredUsers | undefined; counts: Record<'discovery' | 'all', { of: number; scored: number }> } {
  const d = scoredUsers(split, 'discovery', max);
  const a = scoredUsers(split, 'all', max);
  const sampled = d.users.length < d.of || a.users.length < a.of;
  return {
    // undefined: every customer of the split, as before (the arrays would be equal)
    users: sampled ? { discovery: d.users, all: a.users } : undefined,
    counts: { discovery: { of: d.of, scored: d.users.length }, all: { of: a.of, scored: a.users.length } },
  };
}

/** The served model's readable name: its two lists. */
export const servedName = (spec: ServedSpec): string => `discovery=${spec.discovery.name}; all=${spec.all.name}`;

/** The served components' parameters from the run's configuration (validation-chosen grid values included). */
export function servedParams(models: Record<string, Params>): ServedParams {
  return { als: models.als, ease: models.ease, item_knn: models.item_knn, tifu_knn: models.tifu_knn } as ServedParams;
}

/** Whole days from the cutoff to the last protocol row (at least 1). */
export function testWindowDays(lines: readonly HistoryLine[], cutoff: number): number {
  let last = -Infinity;
  for (const l of lines) if (isProtocolRow(l) && l.time > last) last = l.time;
  return Math.max(1, Math.ceil((last - cutoff) / DAY_MS));
}

/** The validation split: the lines before the cutoff, split N days before it. */
export function validationSplit(lines: readonly HistoryLine[], cutoff: number, days: number, weighting: TrainConfig['weighting']): EvalSplit {
  return timeSplit(
    lines.filter((l) => l.time < cutoff),
    cutoff - days * DAY_MS,
    weighting,
  );
}

const better = (a: ModelResult, b: ModelResult) =>
  a.discovery['ndcg@10'] + a.all['ndcg@10'] > b.discovery['ndcg@10'] + b.all['ndcg@10'];

/**
 * Every run fitted on the validation split's training part and scored on its window; the best run per
 * model by NDCG@10 (discovery + all). The fits are kept in `fits` for later runs on the same split.
 */
export async function gridOnValidation(
  val: EvalSplit,
  runs: EvalRun[],
  models: Record<string, Params>,
  fits: FitCache,
  stages: Stages,
  maxUsers: number = SELECT_MAX_USERS,
): Promise<{ figures: Record<string, ModelResult>; fitted: Map<string, Recommender>; best: Map<string, EvalRun>; skipped: Record<string, string> }> {
  const figures: Record<string, ModelResult> = {};
  // the same customers the served model's choice scores (a seeded sample above maxUsers)
  const { users } = sampleUsers(val, maxUsers);
  const fitted = new Map<string, Recommender>();
  const best = new Map<string, EvalRun>();
  // models that cannot fit a catalogue this large (EASE's dense items² inverse): left out, with why, not an error
  const skipped: Record<string, string> = {};
  for (const run of schedule(runs, (r) => fits.pendingState(val, r.model, r.params))) {
    const entry = modelEntry(run.model);
    if (!entry?.create) throw new Error(`unknown model ${run.model}`);
    const prior = await fits.claim(val, run.model, run.params);
    const model = prior?.model ?? entry.create(run.params, models);
    const tooLarge = prior ? null : catalogueLimit(model, val.reference.counts.cols);
    if (tooLarge) {
      skipped[run.label] = tooLarge;
      continue;
    }
    figures[run.label] = await stages.run(`validate ${run.label}`, async (progress) => {
      if (!prior) return fitAndEvaluate(model, val, dataKind(entry, run.params), { progress, fitProgress: progress, users });
      const t0 = performance.now();
      const r = await evaluateRecommender(prior.scorer ?? model, val, { progress, users });
      return { ...r, fit_s: prior.fit_s, eval_s: round2((performance.now() - t0) / 1000), data: dataKind(entry, run.params) };
    });
    fitted.set(run.label, model);
    if (!prior) fits.keep(val, run.model, run.params, model, figures[run.label].fit_s);
  }
  // in the runs' order (they were fitted in the order that kept the background worker busy)
  const inOrder: Record<string, ModelResult> = {};
  for (const run of runs) {
    if (!(run.label in figures)) continue;
    inOrder[run.label] = figures[run.label];
    const prev = best.get(run.model);
    if (!prev || better(figures[run.label], figures[prev.label])) best.set(run.model, run);
  }
  Object.keys(figures).forEach((k) => delete figures[k]);
  Object.assign(figures, inOrder);
  return { figures, fitted, best, skipped };
}

/**
 * The window training chooses the served model on: the last `days` days before the last purchase
 * (at most half the history, so that there is something to fit on before it).
 */
export function servedWindow(lines: readonly HistoryLine[], days: number): { cutoff: number; days: number } {
  let last = -Infinity;
  let first = Infinity;
  for (const l of lines) {
    if (!isProtocolRow(l)) continue;
    if (l.time > last) last = l.time;
    if (l.time < first) first = l.time;
  }
  days = Math.max(1, Math.min(days, Math.floor((last - first) / DAY_MS / 2)));
  // the window starts N days before the last purchase, as `--holdout-days N` does (src/eval/time-split.ts resolveCutoff)
  return { cutoff: last - days * DAY_MS, days };
}

export async function runEvaluation(lines: readonly HistoryLine[], o: EvaluationOptions): Promise<EvaluationReport> {
  const stages = o.stages ?? new Stages({ quiet: true });
  const cutoff = resolveCutoff(lines, { cutoff: o.cutoff, holdoutDays: o.holdoutDays });
  // the test window's length, at most half the training period (a long test window must leave data to fit on)
  let first = Infinity;
  for (const l of lines) if (isProtocolRow(l) && l.time < first) first = l.time;
  const half = Math.max(1, Math.floor((cutoff - first) / DAY_MS / 2));
  const days = o.validationDays ?? Math.min(half, o.cutoff ? testWindowDays(lines, cutoff) : (o.holdoutDays ?? 30));
  const fits = o.fits ?? new FitCache();
  const val = await stages.run('split (validation)', () => validationSplit(lines, cutoff, days, o.config.weighting));
  const runs = o.runs ?? evalRuns(o.models, o.config.models);
  const gridded = runs.some((r) => r.label !== r.model);
  const models = structuredClone(o.config.models);
  const test = await stages.run('split', () => fits.split(lines, cutoff, o.config.weighting));
  // EASE's and TIFU-KNN's fits go to the background worker now, validation's first: it computes them while
  // this thread fits and scores the other models (the test runs of a model the grid varies wait for its choice)
  for (const run of runs) fits.prefetch(val, run.model, run.params, models);
  const varied = new Set(runs.filter((r) => runs.some((q) => q.model === r.model && q !== r)).map((r) => r.model));
  for (const run of runs) if (!varied.has(run.model)) fits.prefetch(test, run.model, run.params, models, false);

  // validation: per-model figures and the grid's choice (the best run per model)
  const maxUsers = o.maxUsers ?? SELECT_MAX_USERS;
  const { figures: validation, fitted, best: bestRun, skipped } = await gridOnValidation(val, runs, models, fits, stages, maxUsers);
  if (gridded) for (const [m, run] of bestRun) models[m] = { ...run.params };
  // the served model, chosen on validation (reusing the models just fitted there when their parameters are the chosen ones)
  const params = servedParams(models);
  const selection = await stages.run('select (validation)', () => selectServed(val, { params, prefit: prefitFrom(fitted, bestRun, runs), maxUsers }));
  validation.served = selectionFigures(selection);

  // test, once: every model (the grid's best only), the served model and the baselines
  // every model scores every item for each test customer: above maxUsers, a seeded sample of them (the same for every model)
  const testSample = sampleUsers(test, maxUsers);
  const users = testSample.users;
  const results: Record<string, ModelResult> = {};
  const testFitted = new Map<string, Recommender>();
  const testRuns = (gridded ? runs.filter((r) => bestRun.get(r.model) === r) : runs).filter((r) => !(r.label in skipped));
  for (const run of testRuns) fits.prefetch(test, run.model, run.params, models, false);
  const paramsOut: Record<string, unknown> = {};
  for (const run of testRuns) paramsOut[run.label] = run.params;
  for (const run of schedule(testRuns, (r) => fits.pendingState(test, r.model, r.params))) {
    const entry = modelEntry(run.model)!;
    // fitted on this split already (training's choice of the served model, or the background worker): scored, not refitted
    const prior = await fits.claim(test, run.model, run.params);
    const model = prior?.model ?? entry.create!(run.params, models);
    const tooLarge = prior ? null : catalogueLimit(model, test.reference.counts.cols);
    if (tooLarge) {
      skipped[run.label] = tooLarge;
      delete paramsOut[run.label];
      continue;
    }
    results[run.label] = await stages.run(`evaluate ${run.label}`, async (progress) => {
      if (!prior) return fitAndEvaluate(model, test, dataKind(entry, run.params), { progress, fitProgress: progress, users });
      const t0 = performance.now();
      const r = await evaluateRecommender(prior.scorer ?? model, test, { progress, users });
      return { ...r, fit_s: prior.fit_s, eval_s: round2((performance.now() - t0) / 1000), data: dataKind(entry, run.params) };
    });
    if (!prior) fits.keep(test, run.model, run.params, model, results[run.label].fit_s);
    testFitted.set(run.label, model);
  }
  // in the runs' order
  for (const run of testRuns) {
    if (!(run.label in results)) continue;
    const r = results[run.label];
    delete results[run.label];
    results[run.label] = r;
  }
  const spec = selection.spec;
  const name = servedName(spec);
  let buyAgain: Record<string, BuyAgainFigures> = {};
  results.served = await stages.run('evaluate served', async () => {
    const t0 = performance.now();
    const st = await fitServed(splitInput(test), needsOf(spec), params, prefitFrom(testFitted, bestRun, testRuns));
    const t1 = performance.now();
    const r = await evaluateRecommender(ServedRecommender.fromState(name, spec, st), test, { users });
    buyAgain = evaluateBuyAgain(test, { state: st, spec }, users?.all);
    return { ...r, fit_s: round2((t1 - t0) / 1000), eval_s: round2((performance.now() - t1) / 1000), data: 'reference' as const };
  });
  for (const [label, s] of [
    ['trend', selection.baselines.trend],
    ['repeat_trend', selection.baselines.repeatTrend],
  ] as const) {
    results[label] = await stages.run(`evaluate ${label}`, async () => {
      const st = await fitServed(splitInput(test), needsOf(s), params);
      return { ...(await evaluateRecommender(ServedRecommender.fromState(label, s, st), test, { users })), fit_s: 0, data: 'reference' as const };
    });
    paramsOut[label] = { discovery: s.discovery, all: s.all };
  }
  paramsOut.served = { discovery: spec.discovery, all: spec.all };
  const vf: ValidationFigures = {
    cutoff: val.cutoffLabel,
    days,
    dataset: val.counts,
    models: validation,
    chosen: { discovery: strip(selection.validation.discovery), all: strip(selection.validation.all) },
    candidates: selection.candidates.map(strip),
    fit_s: selection.fit_s,
    select_s: selection.select_s,
    scoring: selection.scoring,
    selectUsers: selection.users,
    skipped: selection.skipped,
    buyAgain: selection.buyAgain,
  };
  return {
    cutoff: test.cutoffLabel,
    served: name,
    models: results,
    validation: vf,
    buyAgain,
    source: o.source,
    createdAt: new Date().toISOString(),
    dataset: test.counts,
    testUsers: testSample.counts,
    weighting: { ...test.weightingOptions },
    params: paramsOut,
    timings: stages.timings,
    ...(Object.keys(skipped).length ? { skipped } : {}),
  };
}

/** Why `model` cannot be fitted on `items` items (EASE above ease.maxItems), or null. */
function catalogueLimit(model: Recommender, items: number): string | null {
  if (model instanceof EaseRecommender && items > model.params.maxItems) {
    return `${items} items exceed ease.maxItems ${model.params.maxItems} (its items × items inverse is dense; item_knn covers large catalogues)`;
  }
  return null;
}

/**
 * The runs in an order that keeps the background worker (src/models/background-fits.ts) and this thread
 * busy: runs without a background fit (or whose fit is done) first, in order; then those the worker has
 * not started (this thread fits them); those the worker is computing last. Chosen lazily, one at a time.
 */
function* schedule<R extends EvalRun>(runs: readonly R[], state: (r: R) => 'none' | 'queued' | 'running' | 'done'): Generator<R> {
  const rank = { none: 0, done: 0, queued: 1, running: 2 };
  const left = [...runs];
  while (left.length > 0) {
    let b = 0;
    for (let i = 1; i < left.length; i++) if (rank[state(left[i])] < rank[state(left[b])]) b = i;
    yield left.splice(b, 1)[0];
  }
}

/**
 * Training's choice of the served model: the validation window is the last `days` days of the history
 * (the models are fitted on what comes before it). Returns the selection and its figures for the manifest.
 * The split is built before this returns (a plain function: no suspended frame holds `lines` afterwards).
 */
export function chooseServed(
  lines: readonly HistoryLine[],
  config: TrainConfig,
  days: number,
  fits: FitCache = new FitCache(),
  /** Called once the validation fits are done, before the candidates are scored (selectServed's onFitted). */
  onFitted?: () => void,
  hooks: {
    /**
     * Called once the validation split is built. A caller that needs `lines` no more (training without an
     * evaluation) lets its references go: the lines are freed once the split has built its weighted data (the
     * served model's ALS fit), so that the selection's garbage collections do not mark them.
     */
    onSplit?: () => void;
    /** Called once the components' background fits are submitted (selectServed's onStarted). */
    onStarted?: () => void;
  } = {},
): Promise<{ selection: Selection; figures: Omit<ValidationFigures, 'models'> & { served: ModelResult } }> {
  let w: { cutoff: number; days: number };
  let val: EvalSplit;
  try {
    w = servedWindow(lines, days);
    val = fits.split(lines, w.cutoff, config.weighting);
  } catch (e) {
    return Promise.reject(e);
  }
  hooks.onSplit?.();
  return chooseOnSplit(val, w.days, config, fits, onFitted, hooks.onStarted);
}

async function chooseOnSplit(
  val: EvalSplit,
  days: number,
  config: TrainConfig,
  fits: FitCache,
  onFitted?: () => void,
  onStarted?: () => void,
): Promise<{ selection: Selection; figures: Omit<ValidationFigures, 'models'> & { served: ModelResult } }> {
  const params = servedParams(config.models);
  const selection = await selectServed(val, { params, prefit: fits.prefit(val, params), onFitted, onStarted });
  fits.keepServed(val, selection.state, params);
  return {
    selection,
    figures: {
      cutoff: val.cutoffLabel,
      days,
      dataset: val.counts,
      served: selectionFigures(selection),
      chosen: { discovery: strip(selection.validation.discovery), all: strip(selection.validation.all) },
      candidates: selection.candidates.map(strip),
      fit_s: selection.fit_s,
      select_s: selection.select_s,
      scoring: selection.scoring,
      selectUsers: selection.users,
      skipped: selection.skipped,
      buyAgain: selection.buyAgain,
    },
  };
}

const strip = ({ spec: _, ...c }: Selection['candidates'][number]) => c;

/** The served lists' validation figures in the shape of a model's row. */
export function selectionFigures(s: Selection): ModelResult {
  const p = (c: Selection['validation']['discovery']) => ({
    'ndcg@10': c['ndcg@10'],
    'recall@20': c['recall@20'],
    'hr@10': NaN,
    users: c.users,
    'coverage@10': NaN,
  });
  return { discovery: p(s.validation.discovery), all: p(s.validation.all), fit_s: round2(Object.values(s.fit_s).reduce((a, b) => a + b, 0)), data: 'reference' };
}

/** Fitted ALS / item-kNN / EASE / TIFU-KNN of the chosen runs, for the served model to reuse rather than refit. */
function prefitFrom(fitted: Map<string, Recommender>, best: Map<string, EvalRun>, runs: EvalRun[]) {
  const pick = (m: string) => {
    const run = best.get(m) ?? runs.find((r) => r.model === m);
    return run ? fitted.get(run.label) : undefined;
  };
  const als = pick('als');
  const knn = pick('item_knn');
  const ease = pick('ease');
  const tifu = pick('tifu_knn');
  return {
    tifu: tifu instanceof ServedRecommender && tifu.state?.tifu ? tifu.state.tifu : undefined,
    als: als instanceof AlsRecommender && als.userFactors.length > 0 ? als : undefined,
    item_knn: knn instanceof ItemKnnRecommender ? knn : undefined,
    ease: ease instanceof EaseRecommender && ease.n > 0 ? ease : undefined,
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Writes the HTML report, creating its folder. */
export async function writeReportHtml(path: string, report: EvaluationReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, reportHtml(report));
}
