import { openStore } from '/work/wt-card/src/store/open-store.js';
import { parseConfig } from '/work/wt-card/src/config.js';
const s = (await openStore(parseConfig({ ...process.env }))) as any;
const orig = s.db.query.bind(s.db);
let captured: [string, unknown[]] | null = null;
s.db.query = (sql: string, p: unknown[]) => { if (!captured) captured = [sql, p]; return orig(sql, p); };
await s.customerCard(process.argv[2] ?? '69');
for (let i = 0; i < 3; i++) {
  const r = await orig(`EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) ${captured![0]}`, captured![1]);
  const lines = r.rows.map((x: any) => x['QUERY PLAN']);
  console.log(process.argv[3] ? lines.join('\n') : lines.slice(-3).join(' | '));
}
await s.close();
