/**
 * evaluate at scale: every model scores every item for each test customer, so above maxUsers customers per
 * protocol a seeded sample of that many is scored (the same for every model, on validation as on test), and
 * the report says how many of how many; below the cap everyone is scored and the figures are those of before.
 */
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../src/core/records.js';
import { mulberry32 } from '../src/core/random.js';
import { evaluateBuyAgain } from '../src/eval/buy-again-eval.js';
import { evaluateRecommender } from '../src/eval/evaluate.js';
import { reportTable } from '../src/eval/evaluation-report.js';
import { reportHtml } from '../src/eval/report-html.js';
import { runEvaluation, sampleUsers } from '../src/eval/run-evaluation.js';
import { scoredUsers } from '../src/eval/select.js';
import { timeSplit } from '../src/eval/time-split.js';
import { PopularityRecommender } from '../src/models/popularity.js';
import { resolveTrainConfig } from '../src/train/train-config.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

function history(): HistoryLine[] {
  const rnd = mulberry32(7);
  const lines: HistoryLine[] = [];
  let o = 0;
  for (let c = 0; c < 90; c++) {
    for (let b = 0; b < 5; b++) {
      const day = Math.floor(rnd() * 120);
      const orderId = `o${o++}`;
      for (let l = 0; l < 3; l++) {
        const item = (c % 3) * 10 + Math.floor(rnd() * 12);
        lines.push({ orderId, customerId: `C${c}`, sku: `S${item}`, time: T0 + day * DAY + c, quantity: 1, unitPrice: 1, storeId: null, channel: 'web' } as HistoryLine);
      }
    }
  }
  return lines;
}

async function config() {
  const cfg = await resolveTrainConfig({}, undefined, []);
  cfg.models = { ...cfg.models, als: { ...(cfg.models.als as object), factors: 8, iterations: 3, threads: 1 } };
  return cfg;
}

const MODELS = ['popularity', 'item_knn'];

describe('evaluation on a seeded sample of test customers', () => {
  it('scores at most maxUsers per protocol, says how many of how many, and is the same run after run', async () => {
    const lines = history();
    const cfg = await config();
    const whole = await runEvaluation(lines, { holdoutDays: 30, models: MODELS, config: cfg, source: 'test' });
    const of = whole.testUsers!;
    expect(of.all.scored).toBe(of.all.of);
    expect(of.discovery.scored).toBe(of.discovery.of);
    expect(of.all.of).toBe(whole.dataset.testUsersAll);
    expect(of.all.of).toBeGreaterThan(12);
    expect(reportTable(whole)).not.toMatch(/seeded sample/);

    const a = await runEvaluation(lines, { holdoutDays: 30, models: MODELS, config: cfg, source: 'test', maxUsers: 12 });
    const b = await runEvaluation(lines, { holdoutDays: 30, models: MODELS, config: cfg, source: 'test', maxUsers: 12 });
    expect(a.testUsers!.all).toEqual({ of: of.all.of, scored: 12 });
    expect(a.testUsers!.discovery.scored).toBe(Math.min(12, of.discovery.of));
    // every model, the served model and the baselines on the sample (discovery: customers with new items among them)
    for (const [name, m] of Object.entries(a.models)) {
      expect(m.all.users, name).toBe(12);
      expect(m.discovery.users, name).toBeLessThanOrEqual(12);
      expect({ d: b.models[name].discovery, a: b.models[name].all }, name).toEqual({ d: m.discovery, a: m.all });
    }
    // validation: the per-model figures on the same sample as the served model's choice
    for (const m of Object.values(a.validation!.models)) expect(m.all.users).toBeLessThanOrEqual(12);
    expect(a.validation!.selectUsers.all.scored).toBeLessThanOrEqual(12);
    // the buy-again protocol (the served ranking scores every item per customer) on the same sample
    for (const [k, v] of Object.entries(a.buyAgain!)) {
      expect(v.users, k).toBeLessThanOrEqual(12);
      expect(v.users, k).toBeLessThan(whole.buyAgain![k].users);
    }
    expect(whole.buyAgain!.served.users).toBeGreaterThan(12);
    // the dataset counts are the window's, not the sample's
    expect(a.dataset).toEqual(whole.dataset);
    expect(reportTable(a)).toMatch(new RegExp(`seeded sample of test customers: discovery \\d+ of ${of.discovery.of}, all 12 of ${of.all.of}`));
    expect(reportHtml(a)).toMatch(new RegExp(`seeded sample of them: discovery \\d+ of ${of.discovery.of}, all 12 of ${of.all.of}`));
  }, 120_000);

  it('scores every customer exactly as before when there are no more than maxUsers', async () => {
    const split = timeSplit(history(), T0 + 90 * DAY);
    const s = sampleUsers(split, 1_000_000);
    expect(s.users).toBeUndefined();
    expect(s.counts.all).toEqual({ of: split.allUsers.length, scored: split.allUsers.length });
    const model = new PopularityRecommender();
    await model.fit(split.reference);
    const before = await evaluateRecommender(model, split);
    const withAll = await evaluateRecommender(model, split, { users: { discovery: split.discoveryUsers, all: split.allUsers } });
    expect(withAll).toEqual(before);
    // a sample: the sampled customers' figures, the sample being select.ts's (the same users the choice scores)
    const small = sampleUsers(split, 10);
    expect([...small.users!.all]).toEqual([...scoredUsers(split, 'all', 10).users]);
    const sampled = await evaluateRecommender(model, split, { users: small.users });
    expect(sampled.all.users).toBe(10);
    // buy again: every "all" customer by default, the given ones otherwise
    expect(evaluateBuyAgain(split, undefined, split.allUsers)).toEqual(evaluateBuyAgain(split));
    const ba = evaluateBuyAgain(split, undefined, small.users!.all);
    expect(ba.repeat.users).toBeLessThanOrEqual(10);
    expect(ba.repeat.users).toBeLessThan(evaluateBuyAgain(split).repeat.users);
  });
});
