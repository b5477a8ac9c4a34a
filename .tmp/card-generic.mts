import pg from 'pg';
import { openStore } from '/work/wt-card/src/store/open-store.js';
import { parseConfig } from '/work/wt-card/src/config.js';
const s = (await openStore(parseConfig({ ...process.env }))) as any;
const orig = s.db.query.bind(s.db);
let captured: [string, unknown[]] | null = null;
s.db.query = (sql: string, p: unknown[], o: unknown) => { if (!captured) captured = [sql, p]; return orig(sql, p, o); };
await s.customerCard('69');
await s.close();
const c = new pg.Client(process.env.DATABASE_URL); await c.connect();
await c.query('SET plan_cache_mode = force_generic_plan');
await c.query(`PREPARE card(text, int) AS ${captured![0].replace('$1::bigint', '$1::text::bigint').replace(/\$1::bigint/g, '$1::text::bigint')}`);
for (const id of ['69', '2000']) {
  const r = await c.query(`EXPLAIN (ANALYZE, COSTS OFF) EXECUTE card('${id}', 10)`);
  console.log(id, '\n' + r.rows.map((x: any) => x['QUERY PLAN']).join('\n'));
}
await c.end();
