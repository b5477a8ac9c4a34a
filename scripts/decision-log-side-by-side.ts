/**
 * usage: npx tsx scripts/decision-log-side-by-side.ts WORKTREE [--memo] [--learn] [--calls 20000]
 * 20,000 decisions (decide-side-by-side's setup: 200 bench offers, subjects of every segment, guests, channels
 * web/app/store) queued into WORKTREE's DecisionLogWriter with its prepareDecision and written by its store into a
 * fresh PostgreSQL database (DATABASE_URL's server); prints the md5 of the ordered dumps of offer_decision_log and
 * offer_decision_sets: two worktrees store the same rows when the figures are equal.
 */
import pg from 'pg';
const wt = (await import('node:path')).resolve(process.argv[2] ?? '.');
const has = (n: string) => process.argv.includes(`--${n}`);
const { decide, traceOf } = await import(`${wt}/src/core/offers/decide.ts`);
const { prepareOffers } = await import(`${wt}/src/core/offers/screen.ts`);
const { prepareDecision } = await import(`${wt}/src/store/sql-offers.ts`);
const { DecisionLogWriter } = await import(`${wt}/src/serve/decision-log-writer.ts`);
const { benchOffers, benchStore } = await import(`${wt}/scripts/bench-kit.ts`);
const { benchSubjects, benchStats } = await import(`${wt}/scripts/bench-decide.ts`);
const { mulberry32 } = await import(`${wt}/src/core/random.ts`);
const { stableAffinity = (f: unknown) => f } = await import(`${wt}/src/core/offers/propensity.ts`);
const now0 = Date.parse('2026-03-01T12:00:00Z');
const offers = prepareOffers(benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), now0));
const subjects = benchSubjects(60).map((s: any, i: number) => {
  const memo = new Map(); const f = s.affinity;
  const affinity = stableAffinity((o: any) => { let v = memo.get(o.id); if (v === undefined) memo.set(o.id, (v = f(o))); return v; });
  if (i % 10 === 9) return { ...s, personalised: false, segment: null, affinity: () => null };
  if (i % 10 === 8) return { ...s, customerId: null, personalised: true, segment: null, orders: 0, spend: 0, daysSinceLastPurchase: null, consent: {}, affinity };
  return { ...s, affinity };
});
const stats = benchStats(offers);
const random = mulberry32(4242); const learnR = mulberry32(99);
const channels = ['web', 'app', 'store'];
const stockR = mulberry32(5); const inS1 = new Set(offers.filter(() => stockR() < 0.8).map((o: any) => o.id));
const CONSENT = { email: 'email', sms: 'sms', push: 'push' };
const memos = new Map<string, object>();
const db = await benchStore(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test', 'dblog');
const writer = new DecisionLogWriter(db.store, { prepare: prepareDecision, onError: (err: unknown) => console.error('write failed:', (err as Error).message) });
const calls = process.argv.includes('--calls') ? Number(process.argv[process.argv.indexOf('--calls') + 1]) : 20000;
for (let i = 0; i < calls; i++) {
  const subject = subjects[i % subjects.length]; const channel = channels[Math.floor(i / subjects.length) % 3];
  const store = channel === 'store' ? 'S1' : null; const now = now0 + i * 1000;
  const key = `${i % subjects.length}|${channel}`; if (!memos.has(key)) memos.set(key, {});
  const ctx = { channel, store, now, limit: 3, inStock: store === null ? () => true : (o: any) => inS1.has(o.id), contacts: () => undefined, acceptances: (id: string) => stats.overall(id).accepted, channelConsent: CONSENT, holdoutShare: 0.05, random, ...(has('memo') ? { memo: memos.get(key) } : {}) };
  const d = decide(offers, subject, ctx, stats);
  const trace = traceOf(d);
  writer.add({ decisionId: `d${String(i).padStart(6, '0')}`, time: now + (i % 4) * 0.125, customerId: subject.customerId === null ? null : String(1000 + (i % subjects.length)), context: { channel, store, limit: 3, segment: subject.segment, personalised: subject.personalised },
    considered: trace ?? d.considered, shown: d.offers.map((o: any, position: number) => ({ offerId: o.offerId, position, ...(trace?.choice ? {} : { probability: o.probability }), score: o.score, propensity: o.propensity })),
    policy: { name: 'thompson-beta', version: '1' }, holdout: d.holdout });
  if (has('learn') && d.offers.length > 0) { const o = d.offers[0]; stats.record(o.offerId, subject.personalised && subject.segment ? subject.segment : 'guest', channel, learnR() < 0.05, 1); }
  // the writer's writes go on between decisions, as in the service
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1));
}
const left = await writer.close(60000);
const c = new pg.Client({ connectionString: db.env.DATABASE_URL }); await c.connect();
const log = await c.query(`SELECT count(*)::int AS n, md5(string_agg(id || '|' || at::text || '|' || coalesce(customer_id::text, '-') || '|' || doc::text, E'\\n' ORDER BY id)) AS m FROM offer_decision_log`);
const sets = await c.query(`SELECT count(*)::int AS n, md5(string_agg(id || '|' || offer_ids::text || '|' || coalesce(conflicts::text, '-') || '|' || coalesce(value_weights::text, '-'), E'\\n' ORDER BY id)) AS m FROM offer_decision_sets`);
await c.end();
console.log(`log ${log.rows[0].n} rows md5 ${log.rows[0].m}; sets ${sets.rows[0].n} md5 ${sets.rows[0].m}; unwritten ${left}`);
await db.drop();
process.exit(0);
