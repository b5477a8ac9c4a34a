/**
 * npm run train -- [--data <file>] [--version V] [--evaluate] [--config file.json] [hyperparameter flags]
 * Trains every model on the unified history and writes a bundle to MODEL_DIR/<version>/.
 */
import { join } from 'node:path';
import { updateManifest, writeBundle } from '../src/bundle/write-bundle.js';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { config } from '../src/config.js';
import { chooseServed, FitCache, gridOnValidation, runEvaluation, servedWindow, writeReportHtml } from '../src/eval/run-evaluation.js';
import { evalRuns, parseGrid } from '../src/eval/grid.js';
import { warmSelectWorker } from '../src/eval/select-split.js';
import { openStore } from '../src/store/open-store.js';
import { datasetFromFile, datasetFromStore, fileBytes, type HistoryInput, readHistory, WARM_BYTES } from '../src/train/history-input.js';
import { backgroundFits } from '../src/models/background-fits.js';
import { recommenderEntries } from '../src/train/model-registry.js';
import { bigInput, relaunchWithHeap } from '../src/train/heap.js';
import { Stages, peakRssMiB } from '../src/train/stages.js';
import { type BundleFits, startBundleFits, trainBundle } from '../src/train/train-bundle.js';
import { hyperparameterFlags, parseModelList, resolveTrainConfig } from '../src/train/train-config.js';
import { trainSummaryTable } from '../src/train/train-summary.js';
import { setTfNotices } from '../src/train/tf-backend.js';

const spec = defineCli({
  name: 'npm run train --',
  summary:
    'Trains every model (popularity, repeat, item-kNN, frequently bought together, ALS, segments, the served model chosen on\n' +
    'a validation window among ALS, EASE, item-kNN, TIFU-KNN, trend and their blends) on the unified\n' +
    'purchase history and writes a versioned bundle to MODEL_DIR/<version>/ (manifest.json + binary arrays).\n' +
    'Reads the history store unless --data is given.',
  flags: {
    data: { type: 'string', placeholder: 'FILE', description: 'read history from this file (UCI Online Retail or canonical CSV/NDJSON, .gz ok, or a generated dir)' },
    version: { type: 'string', placeholder: 'V', description: 'bundle version [default: UTC time, e.g. 20261123T104500Z]' },
    'model-dir': { type: 'string', placeholder: 'DIR', description: 'where bundles are written [default: MODEL_DIR]' },
    config: { type: 'string', placeholder: 'FILE', description: 'JSON file with "weighting" and "models" hyperparameters' },
    evaluate: { type: 'boolean', description: 'also evaluate on a holdout (models refitted on the train part); metrics go to the manifest, report.html next to it' },
    cutoff: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'with --evaluate: train before this date, test from it' },
    'holdout-days': { type: 'int', default: 30, description: 'with --evaluate and no --cutoff: test on the last N days' },
    'validation-days': {
      type: 'int',
      default: 30,
      placeholder: 'N',
      description: 'choose the served model on the last N days of the history (fitted on what comes before); 0 = skip, serve the default (ALS + 7-day trend)',
    },
    grid: {
      type: 'string',
      placeholder: 'SPEC',
      description:
        'hyperparameters chosen on the validation window, e.g. "ease.lambda=100,250,1000;als.factors=32,64": every combination fitted before the window and scored on it, the best per model (NDCG@10, discovery + all) trains the bundle (manifest: metrics.validation.grid); with --evaluate, the evaluation chooses again on its own validation window',
    },
    'eval-models': { type: 'string', placeholder: 'a,b', description: 'with --evaluate: models to evaluate [default: all]' },
    'save-segments': { type: 'boolean', default: true, description: 'when training from the store, save customer segments to it (--no-save-segments to skip)' },
    'large-heap': {
      type: 'boolean',
      description: 'run with a large JavaScript heap (automatic for --data files over 200 MB; use it for big stores)',
    },
    json: { type: 'boolean', description: 'print the manifest as JSON on stdout instead of the summary table' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress or stage lines on stderr' },
    ...hyperparameterFlags(),
  },
  epilog: 'Exit codes: 0 ok, 1 failure, 2 bad usage.\nExample: npm run train -- --data ../shared/data/online_retail.csv.gz --evaluate',
});

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

runCli(async () => {
  const { flags } = parseCli(spec);
  const cfg = await resolveTrainConfig(flags, flags.config);
  const evalModels = parseModelList(flags['eval-models'], recommenderEntries().filter((e) => e.evaluateByDefault).map((e) => e.name));
  if (!flags.evaluate && (flags.cutoff || flags['eval-models'])) throw new UsageError('--cutoff and --eval-models need --evaluate');
  const version = flags.version ?? stamp();
  const modelDir = flags['model-dir'] ?? config().MODEL_DIR;
  const stages = new Stages({ quiet: flags.quiet });
  if (flags.quiet) setTfNotices(() => {});
  const t0 = performance.now();

  if (flags.data ? await bigInput(flags.data) : flags['large-heap']) relaunchWithHeap();
  // a file large enough for background fits: their worker starts loading while the file is read
  if (flags.data && (await fileBytes(flags.data)) > WARM_BYTES) {
    backgroundFits().warm();
    // and the selection's scoring worker: both load their modules while this thread reads the file
    if (flags['validation-days'] > 0) warmSelectWorker();
  }
  const store = flags.data ? null : await openStore(config());
  try {
    // the lines, for the validation window (and the evaluation): a file is parsed once, its lines kept beside the dataset
    const needLines = flags.evaluate || flags['validation-days'] > 0;
    const input = await stages.run('load + dataset', (progress) =>
      store
        ? datasetFromStore(store, cfg.weighting, progress, { keepLines: needLines })
        : datasetFromFile(flags.data!, cfg.weighting, progress, { maxIdentifiers: config().MAX_IDENTIFIERS_PER_CUSTOMER, keepLines: needLines }),
      { unit: store ? 'count' : 'bytes' },
    );
    const data = input.dataset;
    if (data.summary.pairs === 0) throw new Error('no purchases by known customers in the history: nothing to train on');
    // the bundle's fits on all of the data do not depend on the served model's choice: they go to the background
    // worker at low priority (it starts them when validation's fits leave it idle: item-kNN's lists while the
    // validation split is built, FBT's lists and ALS while the candidates are scored); trainBundle takes them over
    const bundleFits: BundleFits = flags['validation-days'] > 0 ? startBundleFits(data, cfg, ['knn']) : {};
    let history: HistoryInput | null = input.lines
      ? { source: input.source, lines: input.lines, skipped: input.skipped, rejected: input.rejected }
      : needLines
        ? await stages.run('load (validation)', (progress) => readHistory({ store: store ?? undefined, progress }), { unit: 'count' })
        : null;
    // splits and fits shared by the served model's choice and the evaluation: without --cutoff and with
    // --holdout-days = --validation-days, the evaluation's test split is the choice's validation split
    const fits = new FitCache();
    const grid = flags.grid ? parseGrid(flags.grid) : null;
    if (grid && !(flags['validation-days'] > 0)) throw new UsageError('--grid needs a validation window (--validation-days > 0)');
    const evalConfig = structuredClone(cfg);
    let gridFigures: Record<string, unknown> | null = null;
    if (grid) {
      // every combination on the served model's validation window; the best per model trains the bundle
      const w = servedWindow(history!.lines, flags['validation-days']);
      const val = fits.split(history!.lines, w.cutoff, cfg.weighting);
      const runs = evalRuns([], cfg.models, grid);
      const r = await gridOnValidation(val, runs, cfg.models, fits, stages);
      for (const [m, run] of r.best) cfg.models[m] = { ...run.params };
      gridFigures = { cutoff: val.cutoffLabel, days: w.days, runs: r.figures, chosen: Object.fromEntries([...r.best].map(([m, run]) => [m, { label: run.label, params: run.params }])) };
      if (!flags.quiet) process.stderr.write(`grid (chosen on ${w.days} validation days): ${[...r.best.values()].map((run) => run.label).join(', ')}\n`);
    }
    let chosen: Awaited<ReturnType<typeof chooseServed>> | null = null;
    if (flags['validation-days'] > 0) {
      try {
        chosen = await stages.run('select served (validation)', () =>
          chooseServed(
            history!.lines,
            cfg,
            flags['validation-days'],
            fits,
            () => startBundleFits(data, cfg, ['fbt', 'als'], bundleFits),
            {
              // without an evaluation the lines are needed for the validation split only (see below)
              onSplit: flags.evaluate
                ? undefined
                : () => {
                    history = null;
                    input.lines = undefined;
                  },
              // queued behind the validation's fits at low priority: the worker starts them when it has nothing
              // else, and a thread waiting for a validation fit does them meanwhile (background-fits.ts fillWait)
              onStarted: () => startBundleFits(data, cfg, ['fbt', 'als'], bundleFits),
            },
          ),
        );
      } catch (e) {
        // too little history for a validation window (e.g. everything in the last days): serve the default, say so
        if (!(e instanceof InvalidArgumentError)) throw e;
        process.stderr.write(`served model: no validation window (${e.message}); serving the default (ALS + 7-day trend)\n`);
      }
    }
    if (!flags.evaluate) {
      // the lines were kept for the validation window only: let them go before the models are fitted
      // (20M lines are several GiB of heap)
      history = null;
      input.lines = undefined;
      fits.clear();
    }
    if (chosen && !flags.quiet) {
      const v = chosen.selection.validation;
      process.stderr.write(`served (chosen on ${flags['validation-days']} validation days): discovery ${v.discovery.name} (NDCG@10 ${v.discovery['ndcg@10']}), all ${v.all.name} (NDCG@10 ${v.all['ndcg@10']})\n`);
    }
    const served = chosen ? { spec: chosen.selection.spec, validation: { ...(chosen.figures as unknown as Record<string, unknown>), ...(gridFigures ? { grid: gridFigures } : {}) } } : undefined;
    chosen = null; // the validation fit (its ALS factors, TIFU vectors, trend tables) is not needed any more
    // the bundle is written before the evaluation: a long evaluation (or one that fails on a large data set)
    // leaves it in place, and its arrays (customer records, vectors) are let go while the evaluation runs
    const trained = await (async () => {
      const { bundle, segments } = await trainBundle(data, {
        served,
        version,
        source: input.source,
        config: cfg,
        stages,
        itemCategories: input.itemCategories,
        dataExtra: { skipped: input.skipped, rejected: input.rejected },
        prestarted: bundleFits,
      });
      const trainSeconds = (performance.now() - t0) / 1000;
      bundle.manifest.timings = { ...stages.timings, train_total: Math.round(trainSeconds * 1000) / 1000 };
      return { manifest: await stages.run('write', () => writeBundle(modelDir, bundle)), segments };
    })();
    const segments = trained.segments;
    let manifest = trained.manifest;
    const dir = join(modelDir, version);

    if (flags.evaluate) {
      const evalStages = new Stages({ quiet: flags.quiet });
      history ??= await evalStages.run('load (evaluation)', (progress) => readHistory({ data: flags.data, store: store ?? undefined, progress, maxIdentifiers: config().MAX_IDENTIFIERS_PER_CUSTOMER }), {
        unit: store ? 'count' : 'bytes',
      });
      const report = await runEvaluation(history.lines, {
        cutoff: flags.cutoff,
        holdoutDays: flags['holdout-days'],
        models: evalModels,
        config: evalConfig,
        runs: grid ? evalRuns(evalModels, evalConfig.models, grid) : undefined,
        source: history.source,
        stages: evalStages,
        fits,
      });
      const metrics = { ...manifest.metrics, cutoff: report.cutoff, served: report.served, dataset: report.dataset, models: report.models, testUsers: report.testUsers, buyAgain: report.buyAgain, evaluationValidation: report.validation };
      const timings = { ...manifest.timings, evaluate: Math.round(Object.values(evalStages.timings).reduce((a, b) => a + b, 0) * 1000) / 1000 };
      manifest = await updateManifest(modelDir, version, { metrics, timings });
      await writeReportHtml(join(dir, 'report.html'), report);
    }
    if (store && flags['save-segments']) {
      const rows: { customerId: string; segment: NonNullable<(typeof segments)[number]> }[] = [];
      for (let c = 0; c < segments.length; c++) {
        const segment = segments[c];
        if (segment) rows.push({ customerId: data.customers[c], segment });
      }
      await stages.run('save segments', () => store.saveSegments(rows));
    }
    const peak = await peakRssMiB();
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ ...manifest, path: dir, peakRssMiB: peak }, null, 1)}\n`);
    } else {
      process.stdout.write(trainSummaryTable(manifest, dir, peak));
    }
  } finally {
    // a fit the background worker started that nobody waits for any more must not hold the process open
    await Promise.all([store?.close(), backgroundFits().close()]);
  }
}, 'train');
