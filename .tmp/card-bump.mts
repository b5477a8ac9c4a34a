// the per-batch cost of bumping: 54 consecutive blocks of the orders of ~10,000 lines, as import batches are
import { openStore } from '/work/wt-card/src/store/open-store.js';
import { parseConfig } from '/work/wt-card/src/config.js';
import { bumpCustomersOfOrders } from '/work/wt-card/src/store/customer-summaries.js';
const s = (await openStore(parseConfig({ ...process.env }))) as any;
const orders: { id: string; n: number }[] = (await s.db.query(`SELECT o.id::text AS id, count(*)::int AS n FROM orders o JOIN order_lines l ON l.order_id = o.id GROUP BY o.id ORDER BY o.placed_at, o.id`)).rows;
let total = 0, batches = 0, i = 0;
while (i < orders.length) {
  const ids: string[] = []; let lines = 0;
  while (i < orders.length && lines < 10_000) { ids.push(orders[i].id); lines += orders[i].n; i++; }
  const t = performance.now();
  await s.db.transaction(async (tx: any) => { await bumpCustomersOfOrders(tx, ids); throw Object.assign(new Error('rollback'), { rollback: true }); }).catch((e: any) => { if (!e.rollback) throw e; });
  total += performance.now() - t; batches++;
}
console.log(`${batches} batches, bump ${total.toFixed(0)} ms in all (${(total / batches).toFixed(1)} ms per batch, rolled back)`);
await s.close();
