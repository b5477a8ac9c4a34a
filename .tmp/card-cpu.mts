// old (base worktree) vs new SqlStore.customerCard on the same database: server CPU (the backend's
// /proc utime+stime) and client CPU per card, over the same customers, alternating blocks of 100
import { readFileSync } from 'node:fs';
import { openStore as openNew } from '/work/wt-card/src/store/open-store.js';
import { openStore as openOld } from '/work/wt-card-base/src/store/open-store.js';
import { parseConfig } from '/work/wt-card/src/config.js';
const env = parseConfig({ ...process.env, PG_POOL_SIZE: '1' });
const a = (await openOld(env, { poolSize: 1 } as any)) as any;
const b = (await openNew(env, { poolSize: 1 } as any)) as any;
const pid = async (s: any) => (await s.db.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
const [pa, pb] = [await pid(a), await pid(b)];
const ticks = (p: number) => { const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
const ids: string[] = (await b.db.query(`SELECT c.id::text AS id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY md5(c.id::text) LIMIT ${Number(process.env.N ?? 2000)}`)).rows.map((r: any) => r.id);
const acc = { old: { srv: 0, cli: 0, n: 0 }, new: { srv: 0, cli: 0, n: 0 } };
for (let i = 0; i < ids.length; i += 100) {
  const block = ids.slice(i, i + 100);
  for (const [name, s, p] of [['old', a, pa], ['new', b, pb]] as const) {
    const t0 = ticks(p); const c0 = process.cpuUsage();
    for (const id of block) await s.customerCard(id);
    const c1 = process.cpuUsage(c0);
    acc[name].srv += ticks(p) - t0; acc[name].cli += c1.user + c1.system; acc[name].n += block.length;
  }
}
for (const [k, v] of Object.entries(acc)) console.log(`${k}: ${v.n} cards, PostgreSQL backend CPU ${(v.srv * 10_000 / v.n).toFixed(0)} µs/card, client CPU ${(v.cli / v.n).toFixed(0)} µs/card`);
await a.close(); await b.close();
