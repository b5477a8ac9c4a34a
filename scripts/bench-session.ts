/**
 * npx tsx scripts/bench-session.ts [--bundle DIR] [--sessions N] [--rounds N]
 *
 * A guest session's CPU in process (no HTTP), on a trained bundle: RecommendationService.session
 * with the list cache off (every session computed: what a stream of distinct guests costs), then
 * the served scorer alone side by side, alternating rounds: `scoreList` (evaluation's, allocating
 * its components) against `scoreListInto` (serving's), each followed by the same top-k selection,
 * checked equal on every session. Random sessions of 1–4 items drawn as bench:serve draws them.
 */
import { basename, dirname, resolve } from 'node:path';
import { readBundle } from '../src/bundle/read-bundle.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { foldInFactored } from '../src/core/fold-in.js';
import { scoreList, scoreListInto, ServedScratch, topAccepted } from '../src/core/served-model.js';
import { CustomerAccessCache } from '../src/serve/customer-access.js';
import { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import { preparedOf } from '../src/serve/prepared-model.js';
import { RecommendationService } from '../src/serve/recommendation-service.js';
import { cpuUs, rng } from './bench-kit.js';

const spec = defineCli({
  name: 'npx tsx scripts/bench-session.ts',
  summary: "A guest session's CPU in process: the whole list uncached, and the served scorer old vs new side by side.",
  flags: {
    bundle: { type: 'string', default: '/work/bundles/or/v1', placeholder: 'DIR', description: 'a trained bundle (models/<version>)' },
    sessions: { type: 'int', default: 5000, description: 'sessions per round' },
    rounds: { type: 'int', default: 4, description: 'alternating rounds of the side-by-side' },
  },
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const dir = resolve(flags.bundle);
  const bundle = await readBundle(dirname(dir), basename(dir));
  const source = staticModelSource(bundle);
  const model = source.current()!;
  const store = { customerAccess: async () => null, canonicalCustomerId: async () => null, hasConsent: async () => false, customerSkus: async () => [] };
  const service = new RecommendationService({
    source,
    store,
    access: new CustomerAccessCache(store, { ttlMs: 1000, maxEntries: 10 }),
    inventory: new InventorySnapshot(async () => new Map()),
    chain: ['personal', 'neighbours', 'segment', 'popular'],
    listCacheSize: 0,
  });
  service.prepare(model);
  const r = rng(42);
  const n = bundle.items.length;
  const pick = () => bundle.items[Math.floor(r() * r() * n)];
  const sessions = Array.from({ length: flags.sessions }, () => Array.from({ length: 1 + Math.floor(r() * 4) }, pick));
  for (const s of sessions.slice(0, 500)) await service.session(s, { limit: 10 });
  const c0 = cpuUs();
  for (const s of sessions) await service.session(s, { limit: 10 });
  const whole = (cpuUs() - c0) / sessions.length;

  const prep = preparedOf(model);
  const served = prep.served;
  if (!served) throw new Error('the bundle has no served model');
  const listSpec = served.spec.discovery;
  const persons = sessions.map((items) => {
    const seeds = [...new Set(items.map((s) => model.itemIndex.get(s)!))];
    const vector = model.als
      ? foldInFactored({ itemFactors: model.als.itemFactors, k: model.als.k, gram: prep.gram!, reg: model.als.reg, alpha: model.als.alpha }, prep.gramCholesky!, seeds, seeds.map(() => served.foldInWeight), prep.solvedItem!)
      : null;
    return { items: seeds, counts: seeds.map(() => 1), vector };
  });
  const out = new Float64Array(n);
  const scratch = new ServedScratch(n);
  const accept = () => true;
  const old = () => persons.map((p) => topAccepted(scoreList(served.tables, listSpec, p), 10, accept));
  const fresh = () => persons.map((p) => topAccepted(scoreListInto(served.tables, listSpec, p, out, scratch), 10, accept));
  const a = old();
  const b = fresh();
  const same = a.every((x, i) => x.length === b[i].length && x.every((e, q) => e.id === b[i][q].id && Object.is(e.score, b[i][q].score)));
  const times = { old: [] as number[], fresh: [] as number[] };
  for (let round = 0; round < flags.rounds; round++) {
    for (const [name, f] of round % 2 === 0 ? ([['old', old], ['fresh', fresh]] as const) : ([['fresh', fresh], ['old', old]] as const)) {
      const t = cpuUs();
      f();
      times[name].push((cpuUs() - t) / persons.length);
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  process.stdout.write(
    `bundle ${basename(dir)}: ${n} items, k ${model.als?.k ?? '-'}, discovery spec ${listSpec.name}; ${sessions.length} sessions of 1–4 items\n` +
      `session list, uncached (RecommendationService.session): ${whole.toFixed(1)} CPU µs per session\n` +
      `served scorer + top 10, CPU µs per session (median of ${flags.rounds}, rounds ${times.old.map((x) => x.toFixed(1)).join(' / ')} vs ${times.fresh.map((x) => x.toFixed(1)).join(' / ')}): ` +
      `scoreList ${med(times.old).toFixed(1)}, scoreListInto ${med(times.fresh).toFixed(1)} (${(med(times.old) / med(times.fresh)).toFixed(2)}×); same lists and scores: ${same ? 'yes' : 'NO'}\n`,
  );
  if (!same) process.exitCode = 1;
});
