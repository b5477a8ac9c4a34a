/**
 * npm run bench:quality -- --data FILE[,FILE...] [--cutoffs YYYY-MM-DD,...] [--models a,b]
 * Transfer check of the validation-chosen served model: for each data set (and each cutoff, or the last
 * --holdout-days), runs the whole evaluation (choose on the validation window, score the test window once)
 * and prints per data set what was chosen and how it compares with popularity, trend, repeat,
 * repeat-then-trend and EASE on both protocols, with a ✓ where the served model is at or above each.
 */
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { runEvaluation } from '../src/eval/run-evaluation.js';
import { readHistory } from '../src/train/history-input.js';
import { Stages } from '../src/train/stages.js';
import { parseModelList, resolveTrainConfig } from '../src/train/train-config.js';
import { setTfNotices } from '../src/train/tf-backend.js';
import { loadavg } from 'node:os';

const spec = defineCli({
  name: 'npm run bench:quality --',
  summary: 'Evaluates the validation-chosen served model on several data sets and cutoffs against the baselines.',
  flags: {
    data: { type: 'string', required: true, placeholder: 'FILE,...', description: 'history files or generated dirs, comma-separated' },
    cutoffs: { type: 'string', placeholder: 'YYYY-MM-DD,...', description: 'cutoffs (each applied to every data set it falls inside) [default: the last --holdout-days]' },
    'holdout-days': { type: 'int', default: 30, description: 'without --cutoffs: test on the last N days' },
    models: { type: 'string', placeholder: 'a,b', description: 'reference models evaluated beside the served one [default: popularity,repeat,ease,als,item_knn,tifu_knn]' },
    json: { type: 'boolean', description: 'print one JSON line per data set and cutoff' },
  },
});

runCli(async () => {
  const { flags } = parseCli(spec);
  setTfNotices(() => {});
  const cfg = await resolveTrainConfig({}, undefined, []);
  const models = parseModelList(flags.models, ['popularity', 'repeat', 'ease', 'als', 'item_knn', 'tifu_knn']);
  const rows: Record<string, unknown>[] = [];
  for (const data of flags.data.split(',').filter(Boolean)) {
    const input = await readHistory({ data });
    const cutoffs = flags.cutoffs ? flags.cutoffs.split(',') : [undefined];
    for (const cutoff of cutoffs) {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      let r;
      try {
        r = await runEvaluation(input.lines, { cutoff, holdoutDays: flags['holdout-days'], models, config: cfg, source: input.source, stages: new Stages({ quiet: true }) });
      } catch (e) {
        process.stderr.write(`${data} ${cutoff ?? ''}: ${(e as Error).message}\n`);
        continue;
      }
      const cpu = process.cpuUsage(cpu0);
      const m = r.models;
      const pick = (name: string, p: 'discovery' | 'all') => (m[name] ? { n: m[name][p]['ndcg@10'], r: m[name][p]['recall@20'] } : null);
      const row = {
        data,
        cutoff: r.cutoff,
        validationDays: r.validation?.days,
        served: r.served,
        wall_s: Math.round(performance.now() - t0) / 1000,
        cpu_s: Math.round((cpu.user + cpu.system) / 1000) / 1000,
        load: loadavg()[0].toFixed(1),
        discovery: Object.fromEntries(['served', 'popularity', 'trend', 'repeat_trend', 'ease', 'als', 'tifu_knn'].map((k) => [k, pick(k, 'discovery')])),
        all: Object.fromEntries(['served', 'popularity', 'trend', 'repeat', 'repeat_trend', 'ease', 'tifu_knn'].map((k) => [k, pick(k, 'all')])),
        buyAgainProtocol: r.buyAgain,
        // what validation chose and every candidate's paired NDCG@10 gap to it (± standard error)
        validation: r.validation ? { chosen: r.validation.chosen, candidates: r.validation.candidates } : null,
      };
      rows.push(row);
      process.stdout.write(flags.json ? JSON.stringify(row) + '\n' : format(row) + '\n');
    }
  }
}, 'bench:quality');

function format(row: { [k: string]: unknown }): string {
  const out = [`${row.data} cutoff ${row.cutoff} (validation ${row.validationDays} days) — served: ${row.served}  [wall ${row.wall_s} s, cpu ${row.cpu_s} s, load ${row.load}]`];
  for (const p of ['discovery', 'all'] as const) {
    const t = row[p] as Record<string, { n: number; r: number } | null>;
    const s = t.served!;
    const cells = Object.entries(t)
      .filter(([k, v]) => k !== 'served' && v)
      .map(([k, v]) => `${k} ${v!.n.toFixed(4)}/${v!.r.toFixed(4)}${s.n >= v!.n ? ' ✓' : ' ✗'}`);
    out.push(`  ${p.padEnd(9)} served ${s.n.toFixed(4)}/${s.r.toFixed(4)} | ${cells.join(' | ')}`);
  }
  return out.join('\n');
}
