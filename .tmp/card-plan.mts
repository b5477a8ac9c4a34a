import { openStore } from '/work/wt-card/src/store/open-store.js';
import { parseConfig } from '/work/wt-card/src/config.js';
import { SUMMARY_INVARIANTS, summarySql } from '/work/wt-card/src/store/customer-summaries.js';
const s = (await openStore(parseConfig({ ...process.env }))) as any;
const sql = process.argv[2] === 'refresh' ? `WITH ${summarySql('SELECT c.id, c.rev FROM customers c')} SELECT count(*) FROM computed` : SUMMARY_INVARIANTS[0].sql;
const r = await s.db.query(`EXPLAIN ${sql}`);
console.log(r.rows.map((x: any) => x['QUERY PLAN']).join('\n'));
await s.close();
