/**
 * npm run bench:decision-log -- --bundle DIR [--decisions 5000] [--batch 500] [--pglite] [--json]
 *
 * The decision log's cost alone, per decision: realistic decisions (200 bench offers, customers of the bundle,
 * channels web/app/store as bench:offers asks, limit 3) made by `decide` and logged as the service logs them
 * (prepared as queued, then written `--batch` at a time by Store.logDecisions into a fresh database), then read
 * back once (Store.decisionLog). Prints the bytes sent per decision, this process's CPU µs per decision to prepare
 * and to write, the PostgreSQL backends' CPU µs per decision (from /proc; PostgreSQL only: with --pglite the
 * server is this process, counted in "write"), the table's size per decision, and the read's time.
 */
import pg from 'pg';
import { loadedModelFromBundle } from '../src/cache/model-source.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { DEFAULT_OFFER_CHANNEL_CONSENT } from '../src/config.js';
import { decide, traceOf } from '../src/core/offers/decide.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import type { DecisionContext, DecisionSubject, OfferChannel } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { normalised, TargetIndex } from '../src/serve/offer-affinity.js';
import { prepareDecision } from '../src/store/sql-offers.js';
import type { SqlStore } from '../src/store/sql-store.js';
import type { DecisionToLog, PreparedDecision } from '../src/store/store.js';
import { benchOffers, benchStore, cpuUs, storeFigures, storePhase, benchBundle } from './bench-kit.js';

const spec = defineCli({
  name: 'npm run bench:decision-log --',
  summary: "The decision log's cost per decision: bytes, preparing, writing, PostgreSQL's CPU, size on disk.",
  flags: {
    bundle: { type: 'string', placeholder: 'DIR', description: 'a trained bundle (models/<version>)' },
    decisions: { type: 'int', default: 5000, description: 'decisions logged' },
    batch: { type: 'int', default: 500, description: 'decisions per write (the writer batches up to 500)' },
    pglite: { type: 'boolean', description: 'an embedded PGlite directory instead of a fresh PostgreSQL database' },
    json: { type: 'boolean', description: 'one JSON document on stdout' },
  },
  epilog: 'Example: npm run bench:decision-log -- --bundle /work/bundles/or/v1',
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const bundle = await benchBundle(flags.bundle);
  const now = Date.now();
  const offers = prepareOffers(benchOffers(200, Array.from(bundle.popular.global.items.subarray(0, 2000), (i) => bundle.items[i]), now));
  const model = loadedModelFromBundle(bundle);
  const index = new TargetIndex(model, offers);
  const r = mulberry32(7);
  const customers = bundle.customers.filter((c) => c.vector).slice(0, 2000);
  const stats = { cell: () => ({ accepted: 0, shown: 0 }), overall: () => ({ accepted: 0, shown: 0 }) };
  const entries: DecisionToLog[] = [];
  for (let k = 0; k < flags.decisions; k++) {
    const rec = customers[k % customers.length];
    const c = r();
    const channel: OfferChannel = c < 0.5 ? 'web' : c < 0.75 ? 'app' : 'store';
    const store = channel === 'store' ? `S${1 + (k % 2)}` : null;
    const ctx: DecisionContext = {
      channel, store, now, limit: 3, inStock: () => true, contacts: () => undefined, acceptances: () => 0,
      channelConsent: DEFAULT_OFFER_CHANNEL_CONSENT, holdoutShare: 0.05, random: r,
    };
    const subject: DecisionSubject = {
      customerId: String(100 + (k % customers.length)), personalised: true, consent: { personalisation: true, push: k % 2 === 0, email: k % 2 === 0 },
      segment: rec.segment, orders: 1, spend: 10, daysSinceLastPurchase: 30,
      affinity: index.affinityOf({ vector: normalised(rec.vector!, rec.vector!.length), items: rec.items, weights: rec.counts }),
    };
    const d = decide(offers, subject, ctx, stats);
    const trace = traceOf(d);
    entries.push({
      decisionId: crypto.randomUUID(),
      time: now + k,
      customerId: subject.customerId,
      context: { channel, store, limit: 3, segment: subject.segment, personalised: true },
      considered: trace ?? d.considered,
      shown: d.offers.map((o, position) => ({ offerId: o.offerId, position, ...(trace?.choice ? {} : { probability: o.probability }), score: o.score, propensity: o.propensity })),
      policy: { name: 'thompson-beta', version: '1' },
      holdout: d.holdout,
    });
  }
  const prefix = `omnirec-bench-dlog-${process.pid}`;
  const db = await benchStore(flags.pglite ? null : process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test', prefix);
  const monitor = db.env.DATABASE_URL ? new pg.Client({ connectionString: db.env.DATABASE_URL }) : null;
  await monitor?.connect();
  try {
    // the decisions' customers exist (a decision of a customer no longer present is not logged: erasure)
    await (db.store as SqlStore).db.query('INSERT INTO customers (id) SELECT generate_series(100, $1::bigint) ON CONFLICT DO NOTHING', [100 + customers.length - 1]);
    // warm-up: the offer set stored, statements planned, connections open
    await db.store.logDecisions(entries.slice(0, 20).map((e) => prepareDecision({ ...e, decisionId: `warm-${e.decisionId}` })));
    const c0 = cpuUs();
    const prepared: PreparedDecision[] = entries.map((e) => prepareDecision(e));
    const prepareUs = cpuUs() - c0;
    // the row as sent: a JSON text before migration 012 (`row`), a line of COPY after (`line`)
    const sent = (p: PreparedDecision) => {
      const q = p as unknown as { row?: string; line?: Uint8Array };
      return q.line ? q.line.byteLength : Buffer.byteLength(q.row ?? '');
    };
    const bytes = prepared.reduce((a, p) => a + sent(p), 0);
    const t0 = await storeFigures(monitor);
    const c1 = cpuUs();
    const w0 = performance.now();
    let erased = 0;
    for (let i = 0; i < prepared.length; i += flags.batch) erased += (await db.store.logDecisions(prepared.slice(i, i + flags.batch))).erased;
    if (erased) throw new Error(`${erased} decisions left out as erased: the bench's customers are missing`);
    const writeMs = performance.now() - w0;
    const writeUs = cpuUs() - c1;
    const pgUs = storePhase(t0, await storeFigures(monitor), 1).pgCpuUsPerReq;
    let sizeBytes = NaN;
    if (monitor) {
      const s = await monitor.query<{ n: string }>(
        "SELECT sum(pg_total_relation_size(c.oid))::text AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'offer_decision%'",
      );
      sizeBytes = Number(s.rows[0].n);
    }
    const r0 = performance.now();
    const back = await db.store.decisionLog();
    const readMs = performance.now() - r0;
    const n = entries.length;
    const out = {
      decisions: n,
      batch: flags.batch,
      backend: monitor ? 'postgresql' : 'pglite',
      bytesPerDecision: Math.round(bytes / n),
      prepareUsPerDecision: +(prepareUs / n).toFixed(1),
      writeUsPerDecision: +(writeUs / n).toFixed(1),
      pgCpuUsPerDecision: +(pgUs / n).toFixed(1),
      writeWallMs: Math.round(writeMs),
      tableBytesPerDecision: Math.round(sizeBytes / (n + 20)),
      readBack: back.length,
      readMs: Math.round(readMs),
    };
    if (flags.json) process.stdout.write(JSON.stringify(out) + '\n');
    else
      process.stdout.write(
        `${out.backend}: ${n} decisions in batches of ${flags.batch}: ${out.bytesPerDecision} bytes/decision sent; this process ${out.prepareUsPerDecision} µs to prepare + ${out.writeUsPerDecision} µs to write per decision; ` +
          `PostgreSQL backends ${out.pgCpuUsPerDecision} CPU µs/decision; tables ${out.tableBytesPerDecision} bytes/decision; write ${out.writeWallMs} ms wall; read back ${out.readBack} in ${out.readMs} ms\n`,
      );
  } finally {
    await monitor?.end();
    await db.drop();
  }
});
