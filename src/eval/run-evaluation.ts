/**
 * One evaluation run over history lines: split at the cutoff, then fit and score each named model
 * from the registry. Shared by `npm run evaluate` and `npm run train -- --evaluate`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HistoryLine } from '../core/records.js';
import { modelEntry } from '../train/model-registry.js';
import { Stages } from '../train/stages.js';
import type { TrainConfig } from '../train/train-config.js';
import { type ModelResult, fitAndEvaluate } from './evaluate.js';
import type { EvaluationReport } from './evaluation-report.js';
import { reportHtml } from './report-html.js';
import { resolveCutoff, timeSplit } from './time-split.js';

export interface EvaluationOptions {
  cutoff?: string;
  holdoutDays?: number;
  models: string[];
  config: TrainConfig;
  source: string;
  stages?: Stages;
}

export async function runEvaluation(lines: readonly HistoryLine[], o: EvaluationOptions): Promise<EvaluationReport> {
  const stages = o.stages ?? new Stages({ quiet: true });
  const cutoff = resolveCutoff(lines, { cutoff: o.cutoff, holdoutDays: o.holdoutDays });
  const split = await stages.run('split', () => timeSplit(lines, cutoff, o.config.weighting));
  const models: Record<string, ModelResult> = {};
  const params: Record<string, unknown> = {};
  for (const name of o.models) {
    const entry = modelEntry(name);
    if (!entry) throw new Error(`unknown model ${name}`);
    const p = o.config.models[name] ?? entry.defaults;
    params[name] = p;
    models[name] = await stages.run(`evaluate ${name}`, (progress) =>
      fitAndEvaluate(entry.create(p), split, entry.data, { progress, fitProgress: progress }),
    );
  }
  return {
    cutoff: split.cutoffLabel,
    models,
    source: o.source,
    createdAt: new Date().toISOString(),
    dataset: split.counts,
    weighting: { ...split.weighted.weighting },
    params,
    timings: stages.timings,
  };
}

/** Writes the HTML report, creating its folder. */
export async function writeReportHtml(path: string, report: EvaluationReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, reportHtml(report));
}
