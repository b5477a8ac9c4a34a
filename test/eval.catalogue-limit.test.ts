/**
 * evaluate on a catalogue larger than EASE allows (ease.maxItems): EASE is left out with the reason, every
 * other model is evaluated (it used to fail the whole evaluation: "ease: N items exceed maxItems").
 */
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../src/core/records.js';
import { mulberry32 } from '../src/core/random.js';
import { runEvaluation } from '../src/eval/run-evaluation.js';
import { resolveTrainConfig } from '../src/train/train-config.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

function history(): HistoryLine[] {
  const rnd = mulberry32(5);
  const lines: HistoryLine[] = [];
  let o = 0;
  for (let c = 0; c < 80; c++) {
    for (let b = 0; b < 4; b++) {
      const day = Math.floor(rnd() * 120);
      const orderId = `o${o++}`;
      for (let l = 0; l < 3; l++) {
        const item = (c % 4) * 10 + Math.floor(rnd() * 10);
        lines.push({ orderId, customerId: `C${c}`, sku: `S${item}`, time: T0 + day * DAY + c, quantity: 1, unitPrice: 1, storeId: null, channel: 'web' } as HistoryLine);
      }
    }
  }
  return lines;
}

describe('evaluation above EASE’s item limit', () => {
  it('leaves EASE out with the reason and evaluates the other models', async () => {
    const config = await resolveTrainConfig({}, undefined, []);
    config.models = { ...config.models, ease: { ...(config.models.ease as object), maxItems: 10 }, als: { ...(config.models.als as object), factors: 8, iterations: 3, threads: 1 } };
    const report = await runEvaluation(history(), { holdoutDays: 20, models: ['popularity', 'ease', 'item_knn'], config, source: 'test' });
    expect(report.skipped?.ease).toMatch(/items exceed ease\.maxItems 10/);
    expect(report.models.ease).toBeUndefined();
    expect(report.validation?.models.ease).toBeUndefined();
    expect(report.models.popularity.discovery.users).toBeGreaterThan(0);
    expect(report.models.item_knn.discovery.users).toBeGreaterThan(0);
    expect(report.served).toBeTruthy();
  }, 60_000);
});
