/**
 * npm run evaluate -- [--data <file>] [--cutoff YYYY-MM-DD | --holdout-days N] [--models a,b] [--json] ...
 * Offline evaluation of the models on a time split (protocols of reference_eval.py).
 */
import { join } from 'node:path';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { config } from '../src/config.js';
import { reportJson, reportTable } from '../src/eval/evaluation-report.js';
import { evalRuns, parseGrid } from '../src/eval/grid.js';
import { runEvaluation, writeReportHtml } from '../src/eval/run-evaluation.js';
import { SELECT_MAX_USERS } from '../src/eval/select.js';
import { openStore } from '../src/store/open-store.js';
import { bigInput, relaunchWithHeap } from '../src/train/heap.js';
import { fileBytes, readHistory, WARM_BYTES } from '../src/train/history-input.js';
import { backgroundFits } from '../src/models/background-fits.js';
import { recommenderEntries } from '../src/train/model-registry.js';
import { Stages } from '../src/train/stages.js';
import { hyperparameterFlags, parseModelList, resolveTrainConfig } from '../src/train/train-config.js';
import { setTfNotices } from '../src/train/tf-backend.js';

const spec = defineCli({
  name: 'npm run evaluate --',
  summary:
    'Evaluates the models offline: trains on purchases before a cutoff, tests on purchases after it, for customers seen before it.\n' +
    'Two protocols: discovery (new items only, already-bought items filtered) and all (repeat purchases count).\n' +
    'Metrics: NDCG@10, Recall@20, HR@10, catalogue coverage. Reads the history store unless --data is given.',
  flags: {
    data: { type: 'string', placeholder: 'FILE', description: 'read history from this file (UCI Online Retail CSV, .gz ok) instead of the store' },
    cutoff: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'train before this date (UTC), test from it' },
    'holdout-days': { type: 'int', default: 30, description: 'without --cutoff: test on the last N days' },
    'validation-days': {
      type: 'int',
      placeholder: 'N',
      description: 'validation window: the last N days before the cutoff, where models, the grid and the served model are chosen [default: the test window\'s length, at most half the training period]',
    },
    models: {
      type: 'string',
      placeholder: 'a,b',
      description: `models to evaluate (known: ${recommenderEntries().map((e) => e.name).join(', ')}) [default: all]`,
    },
    config: { type: 'string', placeholder: 'FILE', description: 'JSON file with "weighting" and "models" hyperparameters' },
    grid: {
      type: 'string',
      placeholder: 'SPEC',
      description: 'hyperparameter grid, e.g. "item_knn.neighbours=50,100;item_knn.shrink=0,10": every combination is scored on validation, the best per model (and the served model with it) on test once',
    },
    'max-users': {
      type: 'int',
      default: SELECT_MAX_USERS,
      placeholder: 'N',
      description: 'customers scored per protocol on the validation and test windows: above N, a seeded sample of N, the same for every model (JSON: testUsers, validation.selectUsers)',
    },
    'large-heap': {
      type: 'boolean',
      description: 'run with a large JavaScript heap (automatic for --data files over 200 MB; use it for big stores)',
    },
    json: { type: 'boolean', description: 'print one JSON document on stdout instead of a table' },
    report: { type: 'string', placeholder: 'FILE', description: 'HTML report path [default: MODEL_DIR/reports/evaluate-<cutoff>-<time>.html]' },
    'no-report': { type: 'boolean', description: 'do not write the HTML report' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress or stage lines on stderr' },
    ...hyperparameterFlags(),
  },
  epilog: 'Exit codes: 0 ok, 1 failure, 2 bad usage.\nExample: npm run evaluate -- --data ../shared/data/online_retail.csv.gz --cutoff 2011-11-09 --json',
});

runCli(async () => {
  const { flags } = parseCli(spec);
  if (!(flags['max-users'] >= 1)) throw new UsageError(`--max-users must be ≥ 1 (got ${flags['max-users']})`);
  // millions of history lines do not fit Node's default heap (~4 GiB), as in train
  if (flags.data ? await bigInput(flags.data) : flags['large-heap']) relaunchWithHeap();
  const cfg = await resolveTrainConfig(flags, flags.config);
  const models = parseModelList(flags.models, recommenderEntries().filter((e) => e.evaluateByDefault).map((e) => e.name));
  const stages = new Stages({ quiet: flags.quiet });
  if (flags.quiet) setTfNotices(() => {});
  // a file large enough for background fits: their worker starts loading while the file is read
  if (flags.data && (await fileBytes(flags.data)) > WARM_BYTES) backgroundFits().warm();
  const store = flags.data ? null : await openStore(config());
  const input = await stages
    .run('load', (progress) => readHistory({ data: flags.data, store: store ?? undefined, progress, maxIdentifiers: config().MAX_IDENTIFIERS_PER_CUSTOMER }), { unit: store ? 'count' : 'bytes' })
    .finally(() => store?.close());
  const report = await runEvaluation(input.lines, {
    cutoff: flags.cutoff,
    holdoutDays: flags['holdout-days'],
    validationDays: flags['validation-days'],
    models,
    config: cfg,
    runs: flags.grid ? evalRuns(flags.models ? models : [], cfg.models, parseGrid(flags.grid)) : undefined,
    source: input.source,
    stages,
    maxUsers: flags['max-users'],
  });
  for (const [m, why] of Object.entries(report.skipped ?? {})) if (!flags.quiet) process.stderr.write(`${m}: not evaluated: ${why}\n`);
  process.stdout.write(flags.json ? `${reportJson(report)}\n` : reportTable(report));
  if (!flags['no-report']) {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const path = flags.report ?? join(config().MODEL_DIR, 'reports', `evaluate-${report.cutoff}-${stamp}.html`);
    await writeReportHtml(path, report);
    if (!flags.quiet) process.stderr.write(`report: ${path}\n`);
  }
  // a fit the background worker started that nobody waits for any more must not hold the process open
  await backgroundFits().close();
}, 'evaluate');
