/**
 * In-process CPU of the served model's selection on the validation window, its components fitted once:
 *   npx tsx scripts/bench-select.ts FILE [ROUNDS] [--root DIR]
 * Builds the validation split `npm run train` chooses on (the last 30 days), fits the components once (selectServed on
 * this thread, no background worker), then runs selectServed ROUNDS times more on this thread (split: false) with
 * every component given fitted (prefit), so a round is the candidate caches, every candidate list scored, the
 * buy-again protocol and the item tables: the selection's own work. Prints each round's CPU seconds and an md5 of
 * what was chosen and reported (spec, every candidate's figures, the counters, buy-again), equal across rounds.
 * --root DIR: the sources of another checkout (e.g. the base of a comparison; run under tsx, which maps .js to .ts).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const at = args.indexOf('--root');
const root = at >= 0 ? resolve(args.splice(at, 2)[1]) : resolve(new URL('..', import.meta.url).pathname);
const [file, roundsArg] = args;
if (!file) {
  process.stderr.write('usage: npx tsx scripts/bench-select.ts FILE [ROUNDS] [--root DIR]\n');
  process.exit(2);
}
const imp = (p: string) => import(pathToFileURL(`${root}/src/${p}`).href);
const { readHistory } = await imp('train/history-input.js');
const { servedWindow, servedParams } = await imp('eval/run-evaluation.js');
const { timeSplit } = await imp('eval/time-split.js');
const { selectServed } = await imp('eval/select.js');
const { useBackgroundFits, BackgroundFits } = await imp('models/background-fits.js');
const { resolveTrainConfig } = await imp('train/train-config.js');
useBackgroundFits(new BackgroundFits(false));

const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
type Sel = { spec: unknown; candidates: Record<string, unknown>[]; scoring: unknown; buyAgain: unknown; state: Record<string, unknown> & { models: Record<string, unknown> } };
const digest = (s: Sel) =>
  createHash('md5')
    .update(JSON.stringify([s.spec, s.candidates.map((c) => [c.name, c['ndcg@10'], c['recall@20'], c.vsChosen]), s.scoring, s.buyAgain]))
    .digest('hex');

const cfg = await resolveTrainConfig({}, undefined, []);
const input = await readHistory({ data: file });
const w = servedWindow(input.lines, 30);
const val = timeSplit(input.lines, w.cutoff, cfg.weighting);
const params = servedParams(cfg.models);
let c0 = cpu();
const first: Sel = await selectServed(val, { params, split: false });
process.stdout.write(`fits + selection ${(cpu() - c0).toFixed(2)} s CPU, ${digest(first)}\n`);
const st = first.state;
const prefit = { als: st.als, ease: st.models.ease, item_knn: st.models.item_knn, tifu: st.tifu };
for (let r = 0; r < Number(roundsArg ?? 3); r++) {
  c0 = cpu();
  const s: Sel = await selectServed(val, { params, prefit, split: false });
  process.stdout.write(`selection (components given) ${(cpu() - c0).toFixed(2)} s CPU, ${digest(s)}\n`);
}
process.exit(0);
