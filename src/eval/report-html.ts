/**
 * A self-contained HTML page of an evaluation: bar charts as inline SVG (no script, no external
 * resource), the dataset counts, the parameters, and the reference figures for comparison.
 */
import { type EvaluationReport, REFERENCE_FIGURES, sampledUsers } from './evaluation-report.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface Bar {
  label: string;
  value: number;
  reference: boolean;
}

/** A horizontal bar chart as an SVG element. */
export function barChart(title: string, bars: Bar[]): string {
  const rowH = 22;
  const left = 170;
  const width = 560;
  const plotW = width - left - 60;
  const height = 30 + bars.length * rowH + 10;
  const max = Math.max(1e-9, ...bars.map((b) => b.value));
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`];
  parts.push(`<text x="0" y="16" font-size="14" font-weight="bold">${esc(title)}</text>`);
  bars.forEach((b, i) => {
    const y = 30 + i * rowH;
    const w = Math.max(1, (b.value / max) * plotW);
    const fill = b.reference ? '#b8b8b8' : '#3b76c4';
    parts.push(`<text x="${left - 6}" y="${y + 14}" font-size="12" text-anchor="end"${b.reference ? ' fill="#666"' : ''}>${esc(b.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${fill}"/>`);
    parts.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + 14}" font-size="12">${b.value.toFixed(4)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** The whole report page. Reference bars are shown only for the file and cutoff they were measured on. */
export function reportHtml(r: EvaluationReport): string {
  const comparable = r.cutoff === '2011-11-09' && /online_retail\.csv/.test(r.source);
  const charts: string[] = [];
  for (const protocol of ['discovery', 'all'] as const) {
    for (const metric of ['ndcg@10', 'recall@20', 'hr@10'] as const) {
      const bars: Bar[] = Object.entries(r.models).map(([name, m]) => ({ label: name, value: m[protocol][metric], reference: false }));
      if (comparable && metric !== 'hr@10') {
        for (const ref of REFERENCE_FIGURES) {
          const v = protocol === 'discovery' ? ref.discovery?.[metric] : ref.all[metric];
          if (v !== undefined) bars.push({ label: `ref: ${ref.model}`, value: v, reference: true });
        }
      }
      charts.push(barChart(`${protocol} ${metric.toUpperCase()}`, bars));
    }
  }
  const rows = Object.entries(r.models)
    .map(
      ([name, m]) =>
        `<tr><td>${esc(name)}</td><td>${esc(m.data ?? '')}</td>${(['discovery', 'all'] as const)
          .map((p) => (['ndcg@10', 'recall@20', 'hr@10', 'coverage@10'] as const).map((k) => `<td>${m[p][k].toFixed(4)}</td>`).join(''))
          .join('')}<td>${m.fit_s.toFixed(2)}</td></tr>`,
    )
    .join('\n');
  const d = r.dataset;
  const v = r.validation;
  const num = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(4) : '');
  const validationHtml = v
    ? `<h2>Validation (where everything was chosen)</h2>
<p>Window: ${v.days} days from <b>${esc(v.cutoff)}</b> to the cutoff; models fitted on what comes before it
(${v.dataset.users} customers, ${v.dataset.items} items; ${v.dataset.testUsersDiscovery} discovery / ${v.dataset.testUsersAll} all customers).
The served model, its trend half-life, blend weights and the grid's values were chosen there; the test window above was scored once.</p>
<p>Served (answers <code>GET /v1/customers/{id}/recommendations</code>): <b>${esc(r.served ?? '')}</b></p>
<table><thead><tr><th>model</th><th>val disc NDCG@10</th><th>val disc Recall@20</th><th>val all NDCG@10</th><th>val all Recall@20</th>
<th>test disc NDCG@10</th><th>test disc Recall@20</th><th>test all NDCG@10</th><th>test all Recall@20</th><th>fit s (val)</th></tr></thead><tbody>
${Object.entries(v.models)
  .map(([name, m]) => {
    const t = r.models[name];
    return `<tr><td>${esc(name)}</td><td>${num(m.discovery['ndcg@10'])}</td><td>${num(m.discovery['recall@20'])}</td><td>${num(m.all['ndcg@10'])}</td><td>${num(m.all['recall@20'])}</td>
<td>${num(t?.discovery['ndcg@10'])}</td><td>${num(t?.discovery['recall@20'])}</td><td>${num(t?.all['ndcg@10'])}</td><td>${num(t?.all['recall@20'])}</td><td>${m.fit_s.toFixed(2)}</td></tr>`;
  })
  .join('\n')}
</tbody></table>
<details><summary>Every candidate list tried on validation (${v.candidates.length}; scoring took ${v.select_s} s; component fits ${esc(JSON.stringify(v.fit_s))}${
        Object.keys(v.skipped).length ? `; skipped: ${esc(JSON.stringify(v.skipped))}` : ''
      }${
        v.selectUsers && (v.selectUsers.discovery.scored < v.selectUsers.discovery.of || v.selectUsers.all.scored < v.selectUsers.all.of)
          ? `; scored on a seeded sample of users: discovery ${v.selectUsers.discovery.scored} of ${v.selectUsers.discovery.of}, all ${v.selectUsers.all.scored} of ${v.selectUsers.all.of}`
          : ''
      })</summary>
<table><thead><tr><th>candidate</th><th>protocol</th><th>NDCG@10</th><th>Recall@20</th><th>NDCG@10 − chosen (± s.e., paired)</th></tr></thead><tbody>
${v.candidates.map((c) => `<tr><td>${esc(c.name)}</td><td>${c.protocol}</td><td>${num(c['ndcg@10'])}</td><td>${num(c['recall@20'])}</td><td>${c.vsChosen ? `${c.vsChosen.diff.toFixed(4)} ± ${c.vsChosen.se.toFixed(4)}` : ''}</td></tr>`).join('\n')}
</tbody></table></details>`
    : '';
  const buyAgainHtml =
    r.buyAgain && Object.keys(r.buyAgain).length
      ? `<h2>Buy again</h2><p class="note">Customers who bought again in the test window something they had bought before; their own items ranked; relevant = the re-bought ones.</p>
<table><thead><tr><th>ranking</th><th>NDCG@10</th><th>Recall@20</th><th>customers</th></tr></thead><tbody>
${Object.entries(r.buyAgain).map(([k, b]) => `<tr><td>${esc(k)}</td><td>${num(b['ndcg@10'])}</td><td>${num(b['recall@20'])}</td><td>${b.users}</td></tr>`).join('\n')}
</tbody></table>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation ${esc(r.cutoff)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}
pre{background:#f6f6f6;padding:1em;overflow:auto}.note{color:#555}
</style></head><body>
<h1>Offline evaluation</h1>
<p>Cutoff <b>${esc(r.cutoff)}</b> (train before, test at or after) · source <code>${esc(r.source)}</code> · ${esc(r.createdAt)}</p>
<p>Train: ${d.users} customers, ${d.items} items, ${d.trainPairs} customer-item pairs, ${d.trainLines} lines.
Test: ${d.testLines} lines; ${d.testUsersDiscovery} customers for discovery, ${d.testUsersAll} for all${
    sampledUsers(r.testUsers)
      ? ` (every model scored on a seeded sample of them: discovery ${r.testUsers!.discovery.scored} of ${r.testUsers!.discovery.of}, all ${r.testUsers!.all.scored} of ${r.testUsers!.all.of})`
      : ''
  }.</p>
<p class="note">Discovery: items the customer had not bought before the cutoff, already-bought items filtered from the ranking.
All: every item bought after the cutoff (repeat purchases count). Binary relevance; Recall@20 divides by min(|truth|, 20).
“data”: which training matrix the model was fitted on (reference = binary X / line counts as reference_eval.py, weighted = interaction weighting).</p>
<table><thead><tr><th rowspan="2">model</th><th rowspan="2">data</th><th colspan="4">discovery</th><th colspan="4">all</th><th rowspan="2">fit s</th></tr>
<tr><th>NDCG@10</th><th>Recall@20</th><th>HR@10</th><th>cov@10</th><th>NDCG@10</th><th>Recall@20</th><th>HR@10</th><th>cov@10</th></tr></thead>
<tbody>${rows}</tbody></table>
${comparable ? '<p class="note">Grey bars: numpy reference models on the same file and cutoff (issue 3).</p>' : ''}
<div class="charts">${charts.join('\n')}</div>
${validationHtml}
${buyAgainHtml}
<h2>Parameters</h2><pre>${esc(JSON.stringify({ weighting: r.weighting, models: r.params }, null, 2))}</pre>
<h2>Timings (s)</h2><pre>${esc(JSON.stringify(r.timings, null, 2))}</pre>
</body></html>
`;
}
