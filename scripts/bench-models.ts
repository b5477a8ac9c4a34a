/**
 * Fit-time benchmark of the heavy models on the reference protocol's training matrix (the same
 * matrix and, for ALS, the same hyperparameters as reference_eval.py's iALS: counts, 64 factors,
 * reg 1, α 10, 15 iterations), printing wall and CPU seconds per model.
 *
 *   npx tsx scripts/bench-models.ts --data ../shared/data/online_retail.csv.gz [--cutoff 2011-11-09] [--threads 1,2] [--json]
 */
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { readHistory } from '../src/train/history-input.js';
import { resolveCutoff, timeSplit } from '../src/eval/time-split.js';
import type { Recommender } from '../src/core/recommender.js';
import { AlsRecommender } from '../src/models/als.js';
import { EaseRecommender } from '../src/models/ease.js';
import { ItemKnnRecommender } from '../src/models/item-knn.js';

const spec = defineCli({
  name: 'npx tsx scripts/bench-models.ts',
  summary: 'Times the fit of ALS (reference iALS setup, per thread count), EASE and item-kNN on the reference split.',
  flags: {
    data: { type: 'string', required: true, description: 'Online Retail CSV (.gz ok)', placeholder: 'FILE' },
    cutoff: { type: 'string', default: '2011-11-09', description: 'train before this date', placeholder: 'YYYY-MM-DD' },
    threads: { type: 'string', default: '1,2', description: 'ALS worker thread counts to time', placeholder: 'N,M' },
    json: { type: 'boolean', description: 'one JSON document on stdout' },
  },
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const history = await readHistory({ data: flags.data });
  const split = timeSplit(history.lines, resolveCutoff(history.lines, { cutoff: flags.cutoff }));
  const data = split.reference;
  const models: Recommender[] = [
    ...flags.threads.split(',').map((t) => new AlsRecommender({ input: 'counts', factors: 64, reg: 1, alpha: 10, iterations: 15, threads: Number(t) }, `als_t${t}`)),
    new EaseRecommender(),
    new ItemKnnRecommender(),
  ];
  const out: Record<string, { wall_s: number; cpu_s: number }> = {};
  for (const m of models) {
    const t = performance.now();
    const c = process.cpuUsage();
    await m.fit(data);
    const u = process.cpuUsage(c);
    out[m.name] = { wall_s: +((performance.now() - t) / 1000).toFixed(2), cpu_s: +((u.user + u.system) / 1e6).toFixed(2) };
    if (!flags.json) process.stdout.write(`${m.name.padEnd(10)} wall ${out[m.name].wall_s.toFixed(2)} s  cpu ${out[m.name].cpu_s.toFixed(2)} s\n`);
  }
  const shape = { customers: data.counts.rows, items: data.counts.cols, pairs: data.counts.indices.length };
  if (flags.json) process.stdout.write(`${JSON.stringify({ cutoff: split.cutoffLabel, ...shape, models: out }, null, 1)}\n`);
  else process.stdout.write(`matrix ${shape.customers} × ${shape.items}, ${shape.pairs} pairs\n`);
}, 'bench-models');
