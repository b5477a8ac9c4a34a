/**
 * Diagnostic: CPU seconds of each part of an evaluation, one at a time on this thread (no background worker).
 * node scripts/run.mjs scripts/profile-eval-parts.ts FILE CUTOFF
 */
import { readHistory } from '../src/train/history-input.js';
import { validationSplit, testWindowDays } from '../src/eval/run-evaluation.js';
import { parseCutoff } from '../src/eval/time-split.js';
import { easeWeights, EaseRecommender } from '../src/models/ease.js';
import { fitTifu } from '../src/models/tifu-knn.js';
import { itemKnnLists, ItemKnnRecommender } from '../src/models/item-knn.js';
import { fbtLists, FbtRecommender } from '../src/models/fbt.js';
import { AlsRecommender } from '../src/models/als.js';
import { useBackgroundFits, BackgroundFits } from '../src/models/background-fits.js';
import { selectServed, splitInput } from '../src/eval/select.js';
import { evaluateRecommender } from '../src/eval/evaluate.js';
import { DEFAULT_WEIGHTING } from '../src/train/weighting.js';

useBackgroundFits(new BackgroundFits(false));
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };
async function time<T>(name: string, f: () => T | Promise<T>): Promise<T> {
  const c0 = cpu();
  const r = await f();
  process.stdout.write(`${name.padEnd(28)} ${(cpu() - c0).toFixed(2)} s cpu\n`);
  return r;
}
const [file, cut] = process.argv.slice(2);
const input = await time('load', () => readHistory({ data: file }));
const cutoff = parseCutoff(cut);
const days = testWindowDays(input.lines, cutoff);
const val = await time('split (validation)', () => validationSplit(input.lines, cutoff, days, DEFAULT_WEIGHTING));
const w = await time('weighted', () => val.weighted);
const ref = val.reference;
const b = await time('easeWeights', () => easeWeights(ref.counts, {}));
const ease = new EaseRecommender();
ease.adopt(b, ref);
await time('ease recommendMany', () => ease.recommendMany([{ users: val.discoveryUsers, options: { exclude: ref.weights } }, { users: val.allUsers }], 20));
await time('ease neighbourLists 500', () => ease.neighbourLists(500));
const p = ref.purchases;
const tifu = await time('fitTifu', () => fitTifu({ customer: p.customer, order: p.order, item: p.item, time: p.time }, ref.counts.rows, ref.counts.cols, {}));
const knn = new ItemKnnRecommender();
await time('itemKnn fit', () => knn.fit(ref));
await time('itemKnn eval', () => evaluateRecommender(knn, val));
const fbt = new FbtRecommender();
await time('fbt fit', () => fbt.fit(ref));
await time('fbt eval', () => evaluateRecommender(fbt, val));
const als = new AlsRecommender({ threads: 1 } as never);
await time('als fit', () => als.fit(w));
await time('als eval', () => evaluateRecommender(als, val));
await time('selectServed', () => selectServed(val, { params: {}, prefit: { als, item_knn: knn, ease, tifu } }));
void tifu;
