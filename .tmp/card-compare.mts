// old (base worktree) vs new SqlStore.customerCard on the same database, interleaved
import { openStore as openNew } from '/work/wt-card/src/store/open-store.js';
import { openStore as openOld } from '/work/wt-card-base/src/store/open-store.js';
import { parseConfig } from '/work/wt-card/src/config.js';
const env = parseConfig({ ...process.env });
const a = (await openOld(env)) as any;
const b = (await openNew(env)) as any;
const ids: string[] = (await b.db.query(`SELECT c.id::text AS id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY random() LIMIT ${Number(process.env.N ?? 1000)}`)).rows.map((r: any) => r.id);
const heavy: string[] = (await b.db.query(`SELECT customer_id::text AS id FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE customer_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 5`)).rows.map((r: any) => r.id);
const stats = (xs: number[]) => { const s = [...xs].sort((x, y) => x - y); const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]; return `mean ${(s.reduce((x, y) => x + y, 0) / s.length).toFixed(2)} p50 ${q(0.5).toFixed(2)} p99 ${q(0.99).toFixed(2)} max ${s[s.length - 1].toFixed(2)} ms`; };
for (const [name, list] of [['random', ids], ['heaviest 5', heavy]] as const) {
  const to: number[] = [], tn: number[] = [];
  for (let round = 0; round < (name === 'random' ? 1 : 5); round++)
    for (const id of list) {
      let t = performance.now(); const x = await a.customerCard(id); to.push(performance.now() - t);
      t = performance.now(); const y = await b.customerCard(id); tn.push(performance.now() - t);
      if (JSON.stringify(x) !== JSON.stringify(y)) { console.log('DIFFERENT', id, JSON.stringify(x).slice(0, 400), JSON.stringify(y).slice(0, 400)); process.exit(1); }
    }
  console.log(`${name} (${to.length} cards): old ${stats(to)} | new ${stats(tn)}`);
}
await a.close(); await b.close();
