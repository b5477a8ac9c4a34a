/**
 * The result of an evaluation run (what `npm run evaluate -- --json` prints) and the reference
 * figures of issue 3 it is compared with.
 */
import type { ModelResult } from './evaluate.js';
import type { CandidateScore } from './select.js';
import type { EvalSplit } from './time-split.js';

/** What was chosen on the validation window, and every figure it was chosen by. */
export interface ValidationFigures {
  /** Start of the validation window (YYYY-MM-DD); its training part is everything before. */
  cutoff: string;
  days: number;
  dataset: EvalSplit['counts'];
  /** Each model's validation figures (the grid's runs included); "served": the chosen lists'. */
  models: Record<string, ModelResult>;
  chosen: { discovery: CandidateFigures; all: CandidateFigures };
  /** Every candidate list of the served model, as tried. */
  candidates: CandidateFigures[];
  /** Seconds per served component fitted on validation, and for scoring the candidates. */
  fit_s: Record<string, number>;
  select_s: number;
  /** Customer-lists scored from the candidate cache per protocol, and the customers whose cache was deepened (src/eval/select.ts). */
  scoring?: Record<string, { users: number; lists: number; deepened: number }>;
  /** Validation users per protocol, and how many were scored (a seeded sample above SELECT_MAX_USERS). */
  selectUsers: Record<'discovery' | 'all', { of: number; scored: number }>;
  /** Components left out, with why (e.g. EASE above its item limit). */
  skipped: Record<string, string>;
  /** The buy-again protocol on validation, which chose the buy-again ranking. */
  buyAgain: Record<string, { 'ndcg@10': number; 'recall@20': number; users: number }>;
}

export type CandidateFigures = Omit<CandidateScore, 'spec'>;

export interface EvaluationReport {
  /** YYYY-MM-DD. */
  cutoff: string;
  /** The model answering GET /v1/customers/{id}/recommendations (its two lists), chosen on validation. */
  served?: string;
  models: Record<string, ModelResult>;
  validation?: ValidationFigures;
  /** The buy-again protocol (items bought again in the test window, ranked among the customer's own): buy_again, repeat, served. */
  buyAgain?: Record<string, { 'ndcg@10': number; 'recall@20': number; users: number }>;
  source: string;
  createdAt: string;
  dataset: EvalSplit['counts'];
  /**
   * Test customers per protocol, and how many every model was scored on: all of them up to the evaluation's
   * maxUsers (default SELECT_MAX_USERS), else a seeded sample of that many, the same for every model.
   */
  testUsers?: Record<'discovery' | 'all', { of: number; scored: number }>;
  /** Weighting used for models fitted on the weighted matrix. */
  weighting: Record<string, unknown>;
  params: Record<string, unknown>;
  /** Seconds per stage. */
  timings: Record<string, number>;
  /** Models asked for but left out, with why (EASE above ease.maxItems items). */
  skipped?: Record<string, string>;
}

export interface ReferenceFigure {
  model: string;
  discovery: { 'ndcg@10': number; 'recall@20': number } | null;
  all: { 'ndcg@10': number; 'recall@20': number };
  fit_s: number;
}

/**
 * numpy reference models on Online Retail, cutoff 2011-11-09 (issue 3's table; reference_eval.py on this machine).
 * Only comparable to runs on that file and cutoff.
 */
export const REFERENCE_FIGURES: readonly ReferenceFigure[] = [
  { model: 'popularity', discovery: { 'ndcg@10': 0.034, 'recall@20': 0.048 }, all: { 'ndcg@10': 0.081, 'recall@20': 0.095 }, fit_s: 0 },
  { model: 'repeat', discovery: null, all: { 'ndcg@10': 0.339, 'recall@20': 0.343 }, fit_s: 0 },
  { model: 'item-kNN cosine 50', discovery: { 'ndcg@10': 0.089, 'recall@20': 0.11 }, all: { 'ndcg@10': 0.188, 'recall@20': 0.207 }, fit_s: 0.8 },
  { model: 'iALS 128 f', discovery: { 'ndcg@10': 0.09, 'recall@20': 0.11 }, all: { 'ndcg@10': 0.284, 'recall@20': 0.303 }, fit_s: 27 },
  { model: 'EASE λ250', discovery: { 'ndcg@10': 0.101, 'recall@20': 0.125 }, all: { 'ndcg@10': 0.265, 'recall@20': 0.278 }, fit_s: 2.1 },
];

/** The JSON document of `--json`: cutoff and models first, as the issue specifies. */
export function reportJson(r: EvaluationReport): string {
  const { cutoff, served, models, ...rest } = r;
  return JSON.stringify({ cutoff, served, models, ...rest }, null, 1);
}

/** A plain-text table of the results. */
export function reportTable(r: EvaluationReport): string {
  const head = ['model', 'data', 'val disc NDCG', 'val all NDCG', 'disc NDCG@10', 'disc R@20', 'disc HR@10', 'all NDCG@10', 'all R@20', 'all HR@10', 'cov@10', 'fit s'];
  const rows = Object.entries(r.models).map(([name, m]) => [
    name,
    m.data ?? '',
    r.validation?.models[name] ? f(r.validation.models[name].discovery['ndcg@10']) : '',
    r.validation?.models[name] ? f(r.validation.models[name].all['ndcg@10']) : '',
    f(m.discovery['ndcg@10']),
    f(m.discovery['recall@20']),
    f(m.discovery['hr@10']),
    f(m.all['ndcg@10']),
    f(m.all['recall@20']),
    f(m.all['hr@10']),
    f(m.all['coverage@10']),
    m.fit_s.toFixed(2),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((x, c) => (c < 2 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ');
  const d = r.dataset;
  return [
    `cutoff ${r.cutoff}  source ${r.source}`,
    ...(r.validation
      ? [`validation: ${r.validation.days} days from ${r.validation.cutoff} (chosen there, test scored once); served: ${r.served ?? ''}`]
      : []),
    `train: ${d.users} customers, ${d.items} items, ${d.trainPairs} pairs, ${d.trainLines} lines; test: ${d.testLines} lines, ` +
      `${d.testUsersDiscovery} discovery / ${d.testUsersAll} all customers`,
    ...(sampledUsers(r.testUsers)
      ? [`scored on a seeded sample of test customers: discovery ${r.testUsers!.discovery.scored} of ${r.testUsers!.discovery.of}, all ${r.testUsers!.all.scored} of ${r.testUsers!.all.of}`]
      : []),
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...(r.buyAgain && Object.keys(r.buyAgain).length
      ? [
          `buy-again protocol (items bought again, ranked among the customer's own; ${Object.values(r.buyAgain)[0].users} customers):`,
          ...Object.entries(r.buyAgain).map(([k, v]) => `  ${k.padEnd(10)} NDCG@10 ${f(v['ndcg@10'])}  R@20 ${f(v['recall@20'])}`),
          '',
        ]
      : []),
  ].join('\n');
}

const f = (x: number) => x.toFixed(4);

/** Whether fewer customers were scored than there were (a sample). */
export const sampledUsers = (u: Record<'discovery' | 'all', { of: number; scored: number }> | undefined): boolean =>
  !!u && (u.discovery.scored < u.discovery.of || u.all.scored < u.all.of);
