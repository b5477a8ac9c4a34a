/**
 * npm run bench:train -- --data ../shared/data/online_retail.csv.gz
 * npm run bench:train -- --scale [--out DIR]   (generates 1M customers, 100k products, 20M lines first)
 * Times each training stage (load, dataset, each model, bundle write) and the peak memory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { buildDataset } from '../src/train/dataset.js';
import { datasetFromFile, readHistory } from '../src/train/history-input.js';
import { bigInput, relaunchWithHeap } from '../src/train/heap.js';
import { Stages, peakRssMiB } from '../src/train/stages.js';
import { trainBundle } from '../src/train/train-bundle.js';
import { hyperparameterFlags, resolveTrainConfig } from '../src/train/train-config.js';

const spec = defineCli({
  name: 'npm run bench:train --',
  summary: 'Times every training stage (load included, evaluation excluded) and reports peak memory.',
  flags: {
    data: { type: 'string', placeholder: 'FILE|DIR', description: 'history file or generated directory' },
    scale: { type: 'boolean', description: 'scale run: generate --customers/--products/--lines into --out (unless there) and train on it' },
    out: { type: 'string', placeholder: 'DIR', default: join(tmpdir(), 'omnirec-scale'), description: 'with --scale: where the generated data goes' },
    customers: { type: 'int', default: 1_000_000, description: 'with --scale: customers to generate' },
    products: { type: 'int', default: 100_000, description: 'with --scale: products to generate' },
    lines: { type: 'int', default: 20_000_000, description: 'with --scale: order lines to generate' },
    stream: { type: 'boolean', description: 'stream the file into the dataset (what npm run train does; default with --scale) instead of timing load and dataset apart' },
    write: { type: 'boolean', default: true, description: 'also time writing the bundle (to a temporary dir, removed after)' },
    config: { type: 'string', placeholder: 'FILE', description: 'JSON hyperparameter file' },
    json: { type: 'boolean', description: 'print the figures as JSON' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress on stderr' },
    ...hyperparameterFlags(),
  },
  epilog: 'Target (issue 3): the whole training on Online Retail under 20 s on 2 cores.',
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const cfg = await resolveTrainConfig(flags, flags.config);
  let data = flags.data;
  if (flags.scale && !data) {
    data = flags.out;
    if (!existsSync(join(data, 'summary.json'))) {
      process.stderr.write(`generating ${flags.lines} lines into ${data} …\n`);
      const g = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/generate.ts', '--out', data, '--customers', String(flags.customers), '--products', String(flags.products), '--lines', String(flags.lines), '--quiet'],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      if (g.status !== 0) throw new Error(`generator failed (exit ${g.status})`);
    }
  }
  if (!data) throw new UsageError('give --data FILE|DIR or --scale');
  if (flags.scale || (await bigInput(data))) relaunchWithHeap();

  let sampledPeak = 0;
  const sample = () => {
    sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 100);
  const stages = new Stages({ quiet: flags.quiet });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const file = data;
  let dataset;
  let source: string;
  if (flags.stream || flags.scale) {
    const input = await stages.run('load + dataset', (progress) => datasetFromFile(file, cfg.weighting, progress), { unit: 'bytes' });
    dataset = input.dataset;
    source = input.source;
  } else {
    const input = await stages.run('load', (progress) => readHistory({ data: file, progress }), { unit: 'bytes' });
    source = input.source;
    const lines = input.lines;
    dataset = await stages.run('dataset', () => buildDataset(lines, cfg.weighting));
  }
  const lines = dataset.summary.lines;
  const { bundle } = await trainBundle(dataset, { version: 'bench', source, config: cfg, stages });
  const total = (performance.now() - t0) / 1000;
  const cpuUsed = process.cpuUsage(cpu0);
  const totalCpu = (cpuUsed.user + cpuUsed.system) / 1e6;
  if (flags.write) {
    const dir = await mkdtemp(join(tmpdir(), 'omnirec-bench-'));
    try {
      await stages.run('write (not in total)', () => writeBundle(dir, bundle));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  sample();
  clearInterval(timer);
  const figures = {
    data,
    lines,
    customers: dataset.summary.customers,
    items: dataset.summary.items,
    pairs: dataset.summary.pairs,
    timings: stages.timings,
    cpuTimings: stages.cpuTimings,
    total_s: Math.round(total * 100) / 100,
    totalCpu_s: Math.round(totalCpu * 100) / 100,
    loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 10) / 10),
    peakRssSampledMiB: Math.round(sampledPeak / 1048576),
    peakVmHWMMiB: await peakRssMiB(),
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(figures, null, 1)}\n`);
    return;
  }
  const out = [`bench:train on ${data}: ${lines} lines → ${figures.customers} customers × ${figures.items} items, ${figures.pairs} pairs`, ''];
  out.push(`  ${'stage'.padEnd(24)} ${'wall s'.padStart(8)} ${'cpu s'.padStart(8)}`);
  for (const [k, v] of Object.entries(stages.timings)) out.push(`  ${k.padEnd(24)} ${v.toFixed(2).padStart(8)} ${stages.cpuTimings[k].toFixed(2).padStart(8)}`);
  out.push(`  ${'total (load → models)'.padEnd(24)} ${total.toFixed(2).padStart(8)} ${totalCpu.toFixed(2).padStart(8)}`);
  out.push(`  load average ${figures.loadAverage.join(' ')} (wall times on a busy machine exceed CPU times)`);
  out.push(`  peak RSS sampled ${figures.peakRssSampledMiB} MiB, VmHWM ${figures.peakVmHWMMiB} MiB`, '');
  process.stdout.write(out.join('\n'));
}, 'bench:train');
