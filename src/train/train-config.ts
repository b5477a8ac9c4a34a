/**
 * Hyperparameters of a training or evaluation run: defaults (src/train/model-registry.ts and
 * src/train/weighting.ts) < the `--config` JSON file < command-line flags.
 *
 * Config file shape:
 * ```json
 * { "weighting": { "scheme": "log", "epsilon": 1, "quantityWeight": 0, "halfLifeDays": 0 },
 *   "models": { "als": { "factors": 64, "iterations": 15 } } }
 * ```
 */
import { readFile } from 'node:fs/promises';
import type { FlagSpec } from '../cli/args.js';
import { UsageError } from '../cli/args.js';
import { DEFAULT_WEIGHTING, type WeightingOptions, weightingProblems } from './weighting.js';
import { modelEntries, paramFlag, type Params, recommenderEntries } from './model-registry.js';

export interface TrainConfig {
  weighting: WeightingOptions;
  /** Model name → its hyperparameters (every key present, defaults filled in). */
  models: Record<string, Params>;
}

const WEIGHTING_FLAGS = {
  weighting: { key: 'scheme', spec: { type: 'string', choices: ['log', 'lines', 'binary'], description: 'interaction weighting scheme (see src/train/weighting.ts) [default: log]' } },
  epsilon: { key: 'epsilon', spec: { type: 'number', description: 'ε of w = ln(1 + r/ε) [default: 1]' } },
  'quantity-weight': { key: 'quantityWeight', spec: { type: 'number', description: 'β: weight of ln(quantity) per purchase line [default: 0]' } },
  'half-life-days': { key: 'halfLifeDays', spec: { type: 'number', description: 'recency half-life in days, 0 = off [default: 0]' } },
} as const satisfies Record<string, { key: keyof WeightingOptions; spec: FlagSpec }>;

/** The hyperparameter flags: weighting, then `--<model>-<param>` for every registered model. */
export function hyperparameterFlags(): Record<string, FlagSpec> {
  const flags: Record<string, FlagSpec> = {};
  for (const [name, f] of Object.entries(WEIGHTING_FLAGS)) flags[name] = f.spec;
  for (const e of modelEntries()) {
    for (const [key, def] of Object.entries(e.defaults)) {
      const type = typeof def === 'boolean' ? 'boolean' : typeof def === 'number' ? 'number' : 'string';
      flags[paramFlag(e.name, key)] = {
        type,
        description: `${e.name}: ${key} [default: ${String(def)}]`,
        placeholder: type === 'number' ? 'N' : undefined,
        choices: e.choices?.[key],
      };
    }
  }
  return flags;
}

/**
 * Resolves the run's configuration from the parsed flags and an optional config file.
 * Unknown models or parameters and wrongly typed values are usage errors.
 */
export async function resolveTrainConfig(flags: Record<string, unknown>, configPath?: string, argv: readonly string[] = process.argv.slice(2)): Promise<TrainConfig> {
  let file: { weighting?: Record<string, unknown>; models?: Record<string, Record<string, unknown>> } = {};
  if (configPath) {
    let text: string;
    try {
      text = await readFile(configPath, 'utf8');
    } catch {
      throw new UsageError(`cannot read config file ${configPath}`);
    }
    try {
      file = JSON.parse(text) as typeof file;
    } catch (e) {
      throw new UsageError(`config file ${configPath} is not valid JSON: ${(e as Error).message}`);
    }
    const extra = Object.keys(file).filter((k) => k !== 'weighting' && k !== 'models');
    if (extra.length) throw new UsageError(`config file: unknown key(s) ${extra.join(', ')} (expected "weighting", "models")`);
  }
  // booleans are always present in parsed flags: only count those given on the command line
  const given = (flag: string) => flags[flag] !== undefined && (typeof flags[flag] !== 'boolean' || argv.some((a) => a === `--${flag}` || a === `--no-${flag}` || a.startsWith(`--${flag}=`)));

  const weighting: WeightingOptions = { ...DEFAULT_WEIGHTING };
  for (const [k, v] of Object.entries(file.weighting ?? {})) {
    if (!(k in DEFAULT_WEIGHTING) && k !== 'now') throw new UsageError(`config file: unknown weighting option "${k}"`);
    (weighting as unknown as Record<string, unknown>)[k] = v;
  }
  for (const [flag, f] of Object.entries(WEIGHTING_FLAGS)) {
    if (given(flag)) (weighting as unknown as Record<string, unknown>)[f.key] = flags[flag];
  }
  const problems = weightingProblems(weighting);
  if (problems.length) throw new UsageError(`weighting: ${problems.join('; ')}`);

  const models: Record<string, Params> = {};
  const known = new Set(modelEntries().map((e) => e.name));
  for (const name of Object.keys(file.models ?? {})) {
    if (!known.has(name)) throw new UsageError(`config file: unknown model "${name}" (known: ${[...known].join(', ')})`);
  }
  for (const e of modelEntries()) {
    const p: Params = { ...e.defaults };
    for (const [k, v] of Object.entries(file.models?.[e.name] ?? {})) {
      if (!(k in e.defaults)) throw new UsageError(`config file: model "${e.name}" has no parameter "${k}" (has: ${Object.keys(e.defaults).join(', ') || 'none'})`);
      if (typeof v !== typeof e.defaults[k]) throw new UsageError(`config file: ${e.name}.${k} must be a ${typeof e.defaults[k]} (got ${JSON.stringify(v)})`);
      const allowed = e.choices?.[k];
      if (allowed && !allowed.includes(v as string)) throw new UsageError(`config file: ${e.name}.${k} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
      p[k] = v as Params[string];
    }
    for (const k of Object.keys(e.defaults)) {
      const flag = paramFlag(e.name, k);
      if (given(flag)) p[k] = flags[flag] as Params[string];
    }
    models[e.name] = p;
  }
  return { weighting, models };
}

/** Parses `--models a,b` against the registry (empty → the given default list). */
export function parseModelList(value: string | undefined, fallback: string[]): string[] {
  if (!value) return fallback;
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const known = new Set(recommenderEntries().map((e) => e.name));
  const bad = names.filter((n) => !known.has(n));
  if (bad.length) throw new UsageError(`unknown model(s) ${bad.join(', ')} (known: ${[...known].join(', ')})`);
  if (names.length === 0) throw new UsageError('--models is empty');
  return [...new Set(names)];
}
