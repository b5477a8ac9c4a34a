/**
 * usage: npx tsx scripts/log-writer-side-by-side.ts WORKTREE [rate/s, default 4000] [seconds, default 8]
 * The decision log's write path in process, as the service runs it: WORKTREE's DecisionLogWriter (its prepareDecision as
 * queued) writing through WORKTREE's store into a fresh PostgreSQL database (DATABASE_URL's server, named as bench-kit
 * names it), 600 bench decisions (decide-side-by-side's offers and subjects, memo decisions) added again and again at a
 * steady rate in ticks of 5 ms, as requests come; prints this process's CPU µs per decision (prepare, writer, pg client),
 * promises made per decision while adding, the heap after, and the rows written. Two worktrees side by side, alternated.
 */
import { createHook } from 'node:async_hooks';
const wt = (await import('node:path')).resolve(process.argv[2] ?? '.');
const rate = Number(process.argv[3] ?? 4000);
const seconds = Number(process.argv[4] ?? 8);
const { decide, traceOf } = await import(`${wt}/src/core/offers/decide.ts`);
const { prepareOffers } = await import(`${wt}/src/core/offers/screen.ts`);
const { prepareDecision } = await import(`${wt}/src/store/sql-offers.ts`);
const { DecisionLogWriter } = await import(`${wt}/src/serve/decision-log-writer.ts`);
const { benchOffers, benchStore } = await import(new URL('./bench-kit.ts', import.meta.url).href);
const { benchSubjects, benchStats } = await import(`${wt}/scripts/bench-decide.ts`);
const { mulberry32 } = await import(`${wt}/src/core/random.ts`);
const now0 = Date.parse('2026-03-01T12:00:00Z');
const offers = prepareOffers(benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), now0));
const subjects = benchSubjects(60);
const stats = benchStats(offers);
const random = mulberry32(4242);
const entries: any[] = [];
for (let i = 0; i < 600; i++) {
  const s = subjects[i % 60];
  const channel = (['web', 'app', 'store'] as const)[i % 3];
  const memo = {};
  const d = decide(offers, s, { channel, store: null, now: now0 + i, limit: 3, inStock: () => true, contacts: () => undefined, acceptances: () => 0, channelConsent: { email: 'email', sms: 'sms', push: 'push' } as any, holdoutShare: 0.05, random, memo }, stats);
  const t = traceOf(d);
  entries.push({ decisionId: '', time: now0 + i, customerId: null, context: { channel, store: null, limit: 3, segment: s.segment, personalised: s.personalised }, considered: t ?? d.considered, shown: d.offers.map((o: any, position: number) => ({ offerId: o.offerId, position, score: o.score, propensity: o.propensity })), policy: { name: 'thompson-beta', version: '1' }, holdout: d.holdout });
}
const db = await benchStore(process.env.DATABASE_URL!, 'wpg');
const w = new DecisionLogWriter(db.store, { prepare: prepareDecision });
let promises = 0;
const hook = createHook({ init(_i, type) { if (type === 'PROMISE') promises++; } });
const c0 = process.cpuUsage();
const t0 = performance.now();
let added = 0;
hook.enable();
await new Promise<void>((done) => {
  const tick = () => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (added < due) { const e = entries[added % entries.length]; w.add({ ...e, decisionId: `d${added}` }); added++; }
    if (performance.now() - t0 < seconds * 1000) setTimeout(tick, 5); else done();
  };
  tick();
});
hook.disable();
const c = process.cpuUsage(c0);
const left = await w.close(30_000);
const n = w.written;
console.log(`${wt}: ${added} added at ${rate}/s, written ${n}, left ${left}, CPU ${((c.user + c.system) / added).toFixed(1)} µs/decision (prepare + write), promises ${(promises / added).toFixed(2)}/decision, heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
await db.drop();
process.exit(0);
