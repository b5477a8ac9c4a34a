/**
 * npm run evaluate:offers -- --log FILE --json | --from-store
 * Off-policy estimates (IPS, SNIPS, DR with 95 % intervals) of offer policies' value per decision from a decision log.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { config } from '../src/config.js';
import type { Offer } from '../src/core/offers/types.js';
import { evaluateOfferLog, type OfferEvaluationReport } from '../src/eval/offer-evaluation.js';
import { formatOfferLog, readOfferLog, type OfferLogReject, type OfferLogRow } from '../src/eval/offer-log.js';
import { readStoredOfferLog, type OfferLogSource } from '../src/eval/offer-log-store.js';
import { openStore } from '../src/store/open-store.js';

const spec = defineCli({
  name: 'npm run evaluate:offers --',
  summary:
    'Estimates what candidate offer policies would have earned per decision, from a decision log (IPS, self-normalised IPS and\n' +
    'doubly robust, each with a 95 % interval), beside the log\'s own value. Policies: uniform, value_greedy, learned (the service\'s\n' +
    'decide with counts fitted on the log), learned_greedy, and always:<offer> for each offer. Log format: docs/data-formats.md.',
  flags: {
    log: { type: 'string', placeholder: 'FILE', description: 'decision log CSV (gzip ok)' },
    'from-store': { type: 'boolean', description: 'read the decision log and offer events the service stored (DATABASE_URL or PGLITE_DIR)' },
    offers: { type: 'string', placeholder: 'FILE', description: 'offer definitions (JSON array or {"offers": [...]}) for values, weights and targets (default with --from-store: the stored offers)' },
    holdout: { type: 'number', default: 0, placeholder: 'SHARE', description: 'holdout share of the evaluated learned policy' },
    draws: { type: 'int', default: 500, description: 'Monte Carlo draws of the learned policy per decision' },
    seed: { type: 'int', default: 1, description: 'seed of those draws' },
    'no-always': { type: 'boolean', description: 'leave out the always:<offer> policies' },
    'log-out': { type: 'string', placeholder: 'FILE', description: 'also write the rows read as a decision log CSV (with --from-store: the stored log, its probabilities computed from the logged choice inputs)' },
    json: { type: 'boolean', description: 'print one JSON document on stdout' },
  },
  epilog:
    'Exit codes: 0 ok, 1 failure, 2 bad usage.\n' +
    'Example: npm run simulate:offers -- --log-out /tmp/offers-log.csv && npm run evaluate:offers -- --log /tmp/offers-log.csv --json',
});

async function readOffersFile(path: string): Promise<Offer[]> {
  const doc = JSON.parse(await readFile(path, 'utf8')) as unknown;
  const list = Array.isArray(doc) ? doc : (doc as { offers?: unknown }).offers;
  if (!Array.isArray(list)) throw new UsageError(`--offers ${path}: expected a JSON array of offers or {"offers": [...]}`);
  return list.filter((o): o is Offer => typeof o === 'object' && o !== null && typeof (o as Offer).id === 'string' && typeof (o as Offer).value === 'number');
}

async function fromStore(): Promise<{ rows: OfferLogRow[]; offers: Offer[]; notes: Record<string, number> }> {
  const store = (await openStore(config())) as unknown as Partial<OfferLogSource> & { close(): Promise<void> };
  try {
    if (typeof store.decisionLog !== 'function' || typeof store.offers !== 'function' || !store.db) {
      throw new Error('this store has no offer tables (migration 007_offers is missing from this build)');
    }
    return await readStoredOfferLog(store as OfferLogSource);
  } finally {
    await store.close();
  }
}

const fmt = (e: { value: number; ci95: [number, number] }): string => `${e.value.toFixed(4)} [${e.ci95[0].toFixed(4)}, ${e.ci95[1].toFixed(4)}]`;

function table(r: OfferEvaluationReport): string {
  const lines = [
    `decisions ${r.decisions} (rows at lower positions left out: ${r.skippedLowerPositions})`,
    `logged policy (on-policy value): ${fmt(r.onPolicy)}`,
    'policy                         IPS                           SNIPS                         DR                            ESS',
  ];
  for (const [name, p] of Object.entries(r.policies)) {
    lines.push(`${name.padEnd(30)} ${fmt(p.ips).padEnd(29)} ${fmt(p.snips).padEnd(29)} ${fmt(p.dr).padEnd(29)} ${p.effectiveSampleSize.toFixed(0)}`);
  }
  return `${lines.join('\n')}\n`;
}

runCli(async () => {
  const { flags } = parseCli(spec);
  if (!flags.log === !flags['from-store']) throw new UsageError('give exactly one of --log FILE and --from-store');
  if (!(flags.holdout >= 0 && flags.holdout <= 1)) throw new UsageError('--holdout must be between 0 and 1');
  if (flags.draws < 1) throw new UsageError('--draws must be at least 1');
  let rows: OfferLogRow[];
  let rejects: OfferLogReject[] = [];
  let rejected: Record<string, number> = {};
  let notes: Record<string, number> = {};
  let stored: Offer[] | undefined;
  if (flags.log) {
    const parsed = await readOfferLog(flags.log);
    rows = parsed.rows;
    rejects = parsed.rejects;
    rejected = parsed.rejected as Record<string, number>;
  } else ({ rows, notes, offers: stored } = await fromStore());
  // definitions from --offers, else (from the store) the offers stored now
  const offers = flags.offers ? await readOffersFile(flags.offers) : stored;
  if (flags['log-out']) await writeFile(flags['log-out'], formatOfferLog(rows));
  if (rows.length === 0) throw new Error('the log has no usable rows');
  const report = evaluateOfferLog(rows, { seed: flags.seed, holdoutShare: flags.holdout, draws: flags.draws, offers, alwaysPolicies: !flags['no-always'] });
  const source = flags.log ? { log: flags.log } : { store: true, ...notes };
  for (const r of rejects.slice(0, 20)) process.stderr.write(`${r.file}:${r.line}: ${r.reason}\n`);
  if (rejects.length > 20) process.stderr.write(`… ${rejects.length - 20} more rejected rows\n`);
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ source, rows: rows.length, rejected, rejects: rejects.slice(0, 100).map(({ file, line, reason }) => ({ file, line, reason })), ...report })}\n`,
    );
  } else process.stdout.write(table(report));
}, 'evaluate:offers');
