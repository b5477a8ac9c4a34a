/**
 * One evaluation run over history lines: split at the cutoff, then fit and score each named model
 * from the registry. Shared by `npm run evaluate` and `npm run train -- --evaluate`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HistoryLine } from '../core/records.js';
import { dataKind, modelEntry } from '../train/model-registry.js';
import { Stages } from '../train/stages.js';
import type { TrainConfig } from '../train/train-config.js';
import { type ModelResult, fitAndEvaluate } from './evaluate.js';
import type { EvaluationReport } from './evaluation-report.js';
import { type EvalRun, evalRuns } from './grid.js';
import { reportHtml } from './report-html.js';
import { resolveCutoff, timeSplit } from './time-split.js';

export interface EvaluationOptions {
  cutoff?: string;
  holdoutDays?: number;
  models: string[];
  config: TrainConfig;
  /** Explicit runs (e.g. a hyperparameter grid); default: each of `models` with its configured parameters. */
  runs?: EvalRun[];
  source: string;
  stages?: Stages;
}

export async function runEvaluation(lines: readonly HistoryLine[], o: EvaluationOptions): Promise<EvaluationReport> {
  const stages = o.stages ?? new Stages({ quiet: true });
  const cutoff = resolveCutoff(lines, { cutoff: o.cutoff, holdoutDays: o.holdoutDays });
  const split = await stages.run('split', () => timeSplit(lines, cutoff, o.config.weighting));
  const models: Record<string, ModelResult> = {};
  const params: Record<string, unknown> = {};
  for (const run of o.runs ?? evalRuns(o.models, o.config.models)) {
    const entry = modelEntry(run.model);
    if (!entry?.create) throw new Error(`unknown model ${run.model}`);
    const create = entry.create;
    params[run.label] = run.params;
    models[run.label] = await stages.run(`evaluate ${run.label}`, (progress) =>
      fitAndEvaluate(create(run.params, o.config.models), split, dataKind(entry, run.params), { progress, fitProgress: progress }),
    );
  }
  return {
    cutoff: split.cutoffLabel,
    models,
    source: o.source,
    createdAt: new Date().toISOString(),
    dataset: split.counts,
    weighting: { ...split.weightingOptions },
    params,
    timings: stages.timings,
  };
}

/** Writes the HTML report, creating its folder. */
export async function writeReportHtml(path: string, report: EvaluationReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, reportHtml(report));
}
