/**
 * usage: npx tsx scripts/decide-side-by-side.ts WORKTREE (e.g. a base worktree, or .) [--calls 20000] [--warm 3000] [--learn] [--limit 3] [--holdout 0.05] [--probs] [--md5] [--nolog] [--memo]
 * decide + prepareDecision as the service calls them, on a prepared bench offer set (200 offers), subjects of every
 * segment (some not personalised, some guests), channels web/app/store. Prints CPU µs per decision (--nolog: decide alone), or with --md5 the md5 of the rows and answers of --calls decisions
 * (--probs: and of every 20th decision's probabilities; --learn: a response counted after each decision).
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';

const wt = (await import('node:path')).resolve(process.argv[2] ?? '.');
const arg = (name: string, d: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? d : Number(process.argv[i + 1]);
};
const has = (name: string): boolean => process.argv.includes(`--${name}`);

const { decide, traceOf } = await import(`${wt}/src/core/offers/decide.ts`);
const { prepareOffers } = await import(`${wt}/src/core/offers/screen.ts`);
const { prepareDecision } = await import(`${wt}/src/store/sql-offers.ts`);
const { choiceProbabilities } = await import(`${wt}/src/core/offers/choice.ts`);
const { benchOffers } = await import(`${wt}/scripts/bench-kit.ts`);
const { benchSubjects, benchStats } = await import(`${wt}/scripts/bench-decide.ts`);
const { mulberry32 } = await import(`${wt}/src/core/random.ts`);
// marked as the service marks its customers' affinity functions, where the worktree has the mark
const { stableAffinity = (f: unknown) => f } = await import(`${wt}/src/core/offers/propensity.ts`);

const now0 = Date.parse('2026-03-01T12:00:00Z');
const offers = prepareOffers(benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), now0));
const base = benchSubjects(60);
// the service keeps one affinity function per customer (memoised per offer, TargetIndex.affinityOf)
const subjects = base.map((s: any, i: number) => {
  const memo = new Map<string, unknown>();
  const f = s.affinity;
  const affinity = stableAffinity((o: any) => {
    let v = memo.get(o.id);
    if (v === undefined) memo.set(o.id, (v = f(o)));
    return v;
  });
  if (i % 10 === 9) return { ...s, personalised: false, segment: null, affinity: () => null };
  if (i % 10 === 8) return { ...s, customerId: null, personalised: true, segment: null, orders: 0, spend: 0, daysSinceLastPurchase: null, consent: {}, affinity };
  return { ...s, affinity };
});
const stats = benchStats(offers);
const random = mulberry32(4242);
const learnR = mulberry32(99);
const channels = ['web', 'app', 'store'] as const;
const limit = arg('limit', 3);
const holdout = arg('holdout', 0.05);
const stockR = mulberry32(5);
const inS1 = new Set(offers.filter(() => stockR() < 0.8).map((o: any) => o.id));

/** One object, as the service's configuration is (a memo holds while the consent rules are the same object). */
const CONSENT = { email: 'email', sms: 'sms', push: 'push' };
const memos = new Map<string, object>();
function memoOf(subject: number, channel: string): object {
  const key = `${subject}|${channel}`;
  let m = memos.get(key);
  if (!m) memos.set(key, (m = {}));
  return m;
}

function one(i: number, md5: ReturnType<typeof createHash> | null): void {
  const subject = subjects[i % subjects.length];
  const channel = channels[Math.floor(i / subjects.length) % 3];
  const store = channel === 'store' ? 'S1' : null;
  const now = now0 + i * 1000;
  const ctx = {
    channel, store, now, limit,
    inStock: store === null ? () => true : (o: any) => inS1.has(o.id),
    contacts: () => undefined,
    acceptances: (id: string) => stats.overall(id).accepted,
    channelConsent: CONSENT,
    holdoutShare: holdout,
    random,
    // --memo: one memo per subject × channel, as the service keeps one per customer's facts × channel × store
    ...(has('memo') ? { memo: memoOf(i % subjects.length, channel) } : {}),
  };
  const d = decide(offers, subject, ctx, stats);
  const trace = traceOf(d);
  const answer = d.offers.map((o: any) => ({ offerId: o.offerId, title: o.title, kind: o.kind, score: o.score, propensity: o.propensity, value: o.value, reason: o.reason }));
  if (has('nolog') && !md5) return;
  const row = prepareDecision({
    decisionId: `d${i}`,
    time: now,
    customerId: subject.customerId,
    context: { channel, store, limit, segment: subject.segment, personalised: subject.personalised },
    considered: trace ?? d.considered,
    shown: d.offers.map((o: any, position: number) => ({ offerId: o.offerId, position, ...(trace?.choice ? {} : { probability: o.probability }), score: o.score, propensity: o.propensity })),
    policy: { name: 'thompson-beta', version: '1' },
    holdout: d.holdout,
  });
  if (md5) {
    md5.update((row as any).line ?? (row as any).row);
    md5.update(JSON.stringify(answer));
    if (has('probs') && trace?.choice && i % 20 === 0) md5.update(JSON.stringify(choiceProbabilities(trace.choice)));
  }
  if (has('learn') && d.offers.length > 0) {
    const o = d.offers[0];
    const seg = subject.personalised && subject.segment ? subject.segment : 'guest';
    stats.record(o.offerId, seg, channel, learnR() < 0.05, 1);
  }
}

const calls = arg('calls', 20000);
const warm = arg('warm', 3000);
if (has('md5')) {
  const h = createHash('md5');
  for (let i = 0; i < calls; i++) one(i, h);
  process.stdout.write(`${h.digest('hex')} ${calls} decisions\n`);
} else {
  for (let i = 0; i < warm; i++) one(i, null);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = warm; i < warm + calls; i++) one(i, null);
  const c = process.cpuUsage(c0);
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / calls;
  process.stdout.write(`${wt}: CPU ${((c.user + c.system) / calls).toFixed(1)} µs/decision (wall ${wall.toFixed(1)}), load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
}
