/**
 * npm run bench:train -- --data ../shared/data/online_retail.csv.gz
 * npm run bench:train -- --scale [--out DIR]   (generates 1M customers, 100k products, 20M lines first)
 * Times each training stage (generate with --scale, load, dataset, the served model's selection on the
 * validation window, each model, bundle write): wall and CPU seconds and the peak memory of each.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { config } from '../src/config.js';
import { chooseServed } from '../src/eval/run-evaluation.js';
import { buildDataset } from '../src/train/dataset.js';
import { datasetFromFile, readHistory } from '../src/train/history-input.js';
import { bigInput, relaunchWithHeap } from '../src/train/heap.js';
import { Stages, peakRssMiB } from '../src/train/stages.js';
import { trainBundle } from '../src/train/train-bundle.js';
import { hyperparameterFlags, resolveTrainConfig } from '../src/train/train-config.js';

const spec = defineCli({
  name: 'npm run bench:train --',
  summary: 'Times every training stage (load and the served model\'s selection included, test evaluation excluded): wall, CPU, peak memory.',
  flags: {
    data: { type: 'string', placeholder: 'FILE|DIR', description: 'history file or generated directory' },
    scale: { type: 'boolean', description: 'scale run: generate --customers/--products/--lines into --out (unless there) and train on it' },
    out: { type: 'string', placeholder: 'DIR', default: join(tmpdir(), 'omnirec-scale'), description: 'with --scale: where the generated data goes' },
    customers: { type: 'int', default: 1_000_000, description: 'with --scale: customers to generate' },
    products: { type: 'int', default: 100_000, description: 'with --scale: products to generate' },
    lines: { type: 'int', default: 20_000_000, description: 'with --scale: order lines to generate' },
    stream: { type: 'boolean', description: 'stream the file into the dataset (what npm run train does; default with --scale) instead of timing load and dataset apart' },
    'validation-days': {
      type: 'int',
      default: 30,
      placeholder: 'N',
      description: 'time choosing the served model on the last N days, as npm run train does (0 = skip)',
    },
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
  // before generating, so that the generator's row is in the relaunched process's table
  if (flags.scale || (data && (await bigInput(data)))) relaunchWithHeap();
  let generated: { wall: number; cpu: number } | null = null;
  if (flags.scale && !data) {
    data = flags.out;
    if (!existsSync(join(data, 'summary.json'))) {
      process.stderr.write(`generating ${flags.lines} lines into ${data} …\n`);
      const t = performance.now();
      const c = childCpuSeconds();
      const g = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/generate.ts', '--out', data, '--customers', String(flags.customers), '--products', String(flags.products), '--lines', String(flags.lines), '--quiet'],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      if (g.status !== 0) throw new Error(`generator failed (exit ${g.status})`);
      generated = { wall: (performance.now() - t) / 1000, cpu: childCpuSeconds() - c };
    }
  }
  if (!data) throw new UsageError('give --data FILE|DIR or --scale');

  let sampledPeak = 0;
  const sample = () => {
    sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 100);
  // per-stage peaks (VmHWM reset per stage: /usr/bin/time's maximum RSS is then the last stage's; ours is the process's)
  const stages = new Stages({ quiet: flags.quiet, resetPeak: true });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const file = data;
  const validationDays = flags['validation-days'];
  let dataset;
  let source: string;
  let history;
  let itemCategories;
  if (flags.stream || flags.scale) {
    // what npm run train does: one pass over the file, its lines kept for the validation window
    const input = await stages.run(
      'load + dataset',
      (progress) => datasetFromFile(file, cfg.weighting, progress, { maxIdentifiers: config().MAX_IDENTIFIERS_PER_CUSTOMER, keepLines: validationDays > 0 }),
      { unit: 'bytes' },
    );
    dataset = input.dataset;
    source = input.source;
    history = input.lines;
    itemCategories = input.itemCategories;
  } else {
    const input = await stages.run('load', (progress) => readHistory({ data: file, progress }), { unit: 'bytes' });
    source = input.source;
    history = input.lines;
    dataset = await stages.run('dataset', () => buildDataset(input.lines, cfg.weighting));
  }
  const lines = dataset.summary.lines;
  let chosen: Awaited<ReturnType<typeof chooseServed>> | null = null;
  if (validationDays > 0 && history) {
    const kept = history;
    try {
      chosen = await stages.run('select served (validation)', () => chooseServed(kept, cfg, validationDays));
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      process.stderr.write(`served model: no validation window (${e.message}); timing the default\n`);
    }
  }
  history = undefined; // the lines are not needed after the selection (npm run train keeps them only for --evaluate)
  const { bundle } = await trainBundle(dataset, {
    version: 'bench',
    source,
    config: cfg,
    stages,
    itemCategories,
    served: chosen ? { spec: chosen.selection.spec, validation: chosen.figures as unknown as Record<string, unknown> } : undefined,
  });
  chosen = null;
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
  const peakTotal = await peakRssMiB();
  const figures = {
    data,
    lines,
    customers: dataset.summary.customers,
    items: dataset.summary.items,
    pairs: dataset.summary.pairs,
    timings: stages.timings,
    cpuTimings: stages.cpuTimings,
    peakRssMiB: stages.peakRssMiB,
    ...(generated ? { generate: { wall_s: round2(generated.wall), cpu_s: round2(generated.cpu) } } : {}),
    served: bundle.manifest.params?.served,
    total_s: Math.round(total * 100) / 100,
    totalCpu_s: Math.round(totalCpu * 100) / 100,
    loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 10) / 10),
    peakRssSampledMiB: Math.round(sampledPeak / 1048576),
    peakVmHWMMiB: peakTotal,
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(figures, null, 1)}\n`);
    return;
  }
  const out = [`bench:train on ${data}: ${lines} lines → ${figures.customers} customers × ${figures.items} items, ${figures.pairs} pairs`, ''];
  const row = (k: string, wall: number, cpu: number, peak: string) => `  ${k.padEnd(26)} ${wall.toFixed(2).padStart(9)} ${cpu.toFixed(2).padStart(9)} ${peak.padStart(13)}`;
  out.push(`  ${'stage'.padEnd(26)} ${'wall s'.padStart(9)} ${'cpu s'.padStart(9)} ${'peak RSS MiB'.padStart(13)}`);
  if (generated) out.push(row('generate (child process)', generated.wall, generated.cpu, '—'));
  for (const [k, v] of Object.entries(stages.timings)) out.push(row(k, v, stages.cpuTimings[k], String(stages.peakRssMiB[k])));
  out.push(row('total (load → models)', total, totalCpu, String(peakTotal)));
  out.push(`  load average ${figures.loadAverage.join(' ')} (wall times on a busy machine exceed CPU times)`);
  out.push(`  peak RSS sampled ${figures.peakRssSampledMiB} MiB, VmHWM ${figures.peakVmHWMMiB} MiB`, '');
  process.stdout.write(out.join('\n'));
}, 'bench:train');

const round2 = (x: number) => Math.round(x * 100) / 100;

/** CPU seconds (user + system) of this process's waited-for children, from /proc/self/stat (0 where there is none). */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 16 and 17 (cutime, cstime) of proc(5), counted from field 3 after the command name
    return (Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return 0;
  }
}
