/**
 * Hyperparameter grid for `npm run evaluate -- --grid`: every combination of the listed values,
 * each evaluated as its own run on the same split.
 *
 * @example
 * parseGrid('item_knn.neighbours=50,100;item_knn.shrink=0,10')
 * // → item_knn with {neighbours:50,shrink:0}, {50,10}, {100,0}, {100,10}
 */
import { UsageError } from '../cli/args.js';
import { modelEntry, type ParamValue, type Params } from '../train/model-registry.js';

export interface EvalRun {
  /** Label in the results: the model name, plus the grid values when any. */
  label: string;
  model: string;
  params: Params;
}

/** Parses a grid spec into per-model lists of parameter overrides. */
export function parseGrid(spec: string): Map<string, Params[]> {
  const axes = new Map<string, { param: string; values: ParamValue[] }[]>();
  for (const part of spec.split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z_]+)\.([A-Za-z0-9]+)=(.+)$/.exec(part);
    if (!m) throw new UsageError(`--grid: "${part}" is not model.param=v1,v2,...`);
    const [, model, param, list] = m;
    const entry = modelEntry(model);
    if (!entry?.create) throw new UsageError(`--grid: unknown model "${model}"`);
    if (!(param in entry.defaults)) throw new UsageError(`--grid: model "${model}" has no parameter "${param}"`);
    const def = entry.defaults[param];
    const values = list.split(',').map((raw): ParamValue => {
      const v = raw.trim();
      if (typeof def === 'number') {
        const n = Number(v);
        if (v === '' || !Number.isFinite(n)) throw new UsageError(`--grid: ${model}.${param} takes numbers (got "${v}")`);
        return n;
      }
      if (typeof def === 'boolean') {
        if (v !== 'true' && v !== 'false') throw new UsageError(`--grid: ${model}.${param} takes true/false (got "${v}")`);
        return v === 'true';
      }
      const allowed = entry.choices?.[param];
      if (allowed && !allowed.includes(v)) throw new UsageError(`--grid: ${model}.${param} must be one of ${allowed.join(', ')} (got "${v}")`);
      return v;
    });
    const list2 = axes.get(model) ?? [];
    list2.push({ param, values });
    axes.set(model, list2);
  }
  const out = new Map<string, Params[]>();
  for (const [model, ax] of axes) {
    let combos: Params[] = [{}];
    for (const { param, values } of ax) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [param]: v })));
    out.set(model, combos);
  }
  return out;
}

/** The runs of an evaluation: each model once with its configured parameters, or once per grid combination. */
export function evalRuns(models: string[], configured: Record<string, Params>, grid: Map<string, Params[]> = new Map()): EvalRun[] {
  const runs: EvalRun[] = [];
  const names = [...models, ...[...grid.keys()].filter((m) => !models.includes(m))];
  for (const model of names) {
    const base = configured[model] ?? modelEntry(model)?.defaults ?? {};
    const combos = grid.get(model);
    if (!combos) {
      runs.push({ label: model, model, params: base });
      continue;
    }
    for (const c of combos) {
      const tag = Object.entries(c).map(([k, v]) => `${k}=${String(v)}`).join(',');
      runs.push({ label: `${model}[${tag}]`, model, params: { ...base, ...c } });
    }
  }
  return runs;
}
