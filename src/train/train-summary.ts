/**
 * The summary `npm run train` prints at the end: what was trained on, timings per stage,
 * metrics when the run evaluated, and where the bundle is.
 */
import type { BundleManifest } from '../core/bundle.js';
import type { ModelResult } from '../eval/evaluate.js';

export function trainSummaryTable(m: BundleManifest, dir: string, peakMiB: number): string {
  const d = m.data;
  const out: string[] = [];
  out.push(`bundle ${m.version} → ${dir}`);
  out.push(
    `data: ${d.source}, ${d.from?.slice(0, 10) ?? '?'} … ${d.to?.slice(0, 10) ?? '?'}; ${d.customers} customers, ${d.items} items, ` +
      `${d.orders} orders, ${d.lines} lines, ${String(d.pairs ?? '?')} customer-item pairs`,
  );
  out.push('');
  out.push('stage                    seconds');
  for (const [stage, s] of Object.entries(m.timings)) out.push(`${stage.padEnd(22)} ${s.toFixed(2).padStart(9)}`);
  out.push(`peak memory (VmHWM)    ${String(peakMiB).padStart(9)} MiB`);
  const models = (m.metrics as { models?: Record<string, ModelResult>; cutoff?: string }).models;
  if (models) {
    out.push('');
    out.push(`holdout evaluation, cutoff ${String((m.metrics as { cutoff?: string }).cutoff)}`);
    out.push('model            disc NDCG@10  disc R@20  all NDCG@10  all R@20   fit s');
    for (const [name, r] of Object.entries(models)) {
      out.push(
        `${name.padEnd(16)} ${r.discovery['ndcg@10'].toFixed(4).padStart(12)} ${r.discovery['recall@20'].toFixed(4).padStart(10)} ` +
          `${r.all['ndcg@10'].toFixed(4).padStart(12)} ${r.all['recall@20'].toFixed(4).padStart(9)} ${r.fit_s.toFixed(2).padStart(7)}`,
      );
    }
  }
  out.push('');
  return out.join('\n');
}
