import { openStore } from '/work/wt-card/src/store/open-store.js';
import { parseConfig } from '/work/wt-card/src/config.js';
import { SUMMARY_INVARIANTS } from '/work/wt-card/src/store/customer-summaries.js';
const s = (await openStore(parseConfig({ ...process.env }))) as any;
for (const inv of SUMMARY_INVARIANTS) {
  const t = performance.now();
  const r = await s.db.query(`SELECT count(*)::int AS n FROM (${inv.sql}) x`);
  console.log(inv.name, r.rows[0].n, (performance.now() - t).toFixed(0), 'ms');
}
const t = performance.now();
console.log('refresh (nothing to do):', await s.refreshCardSummaries(), (performance.now() - t).toFixed(0), 'ms');
await s.close();
