/**
 * npm run generate -- --out DIR [--customers N] [--products N] [--stores N] [--lines N] [--days N] [--seed S] [--gzip]
 * Writes a deterministic synthetic omnichannel data set (see src/generate/generate-dataset.ts).
 */
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { progressBar } from '../src/cli/progress.js';
import { DATASET_SHAPES, type DatasetShape, generateDataset } from '../src/generate/generate-dataset.js';

const spec = defineCli({
  name: 'npm run generate --',
  summary: 'Generates synthetic omnichannel retail data (orders, inventory, consent, summary.json), deterministic by seed.',
  flags: {
    out: { type: 'string', required: true, placeholder: 'DIR', description: 'output directory (created if missing)' },
    customers: { type: 'int', default: 2000, description: 'people (each may shop under several identities)' },
    products: { type: 'int', default: 500, description: 'catalogue size' },
    stores: { type: 'int', default: 8, description: 'physical stores' },
    lines: { type: 'int', default: 60000, description: 'target number of order lines (approximate)' },
    days: { type: 'int', default: 365, description: 'days of history' },
    start: { type: 'string', default: '2024-01-01', placeholder: 'YYYY-MM-DD', description: 'first day' },
    seed: { type: 'int', default: 42, description: 'random seed (same seed → identical files)' },
    shape: {
      type: 'string',
      default: 'mixed',
      choices: DATASET_SHAPES,
      description: 'kind of retailer: mixed (some consumables), grocery (frequent repeats), fashion (rare repeats, seasonal demand)',
    },
    gzip: { type: 'boolean', description: 'gzip the CSV files' },
    json: { type: 'boolean', description: 'print the summary as JSON on stdout' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
  epilog: 'Exit codes: 0 ok, 1 failure, 2 bad usage.',
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const bar = progressBar({ label: 'generate', total: flags.lines, quiet: flags.quiet });
  const t0 = performance.now();
  const summary = await generateDataset({
    out: flags.out,
    customers: flags.customers,
    products: flags.products,
    stores: flags.stores,
    lines: flags.lines,
    days: flags.days,
    start: flags.start,
    seed: flags.seed,
    gzip: flags.gzip,
    shape: flags.shape as DatasetShape,
    onProgress: (done) => bar.update(Math.min(done, flags.lines), { info: `${done.toLocaleString('en-US')} lines` }),
  });
  bar.stop();
  const seconds = (performance.now() - t0) / 1000;
  const rate = Math.round(summary.lines / seconds);
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ...summary, out: flags.out, seconds: Number(seconds.toFixed(3)), linesPerSecond: rate }) + '\n');
  } else {
    const m = summary.multiChannelBuyers;
    process.stdout.write(
      [
        `wrote ${flags.out}/{${Object.values(summary.files).join(',')}} in ${seconds.toFixed(2)} s (${rate.toLocaleString('en-US')} lines/s)`,
        `  people ${summary.people} (buyers ${summary.buyers}; multi-channel: loyalty ${m.loyalty}, email ${m.email}, phone ${m.phone}, unlinked ${m.none}; expected unified customers ${summary.expectedUnifiedCustomers})`,
        `  products ${summary.products} in ${summary.categories} categories, stores ${summary.stores}`,
        `  orders ${summary.orders} (returns ${summary.returnOrders}, guests ${summary.guestOrders}), lines ${summary.lines} (repeat purchases ${summary.repeatLines}, returned ${summary.returnLines})`,
        `  inventory rows ${summary.inventoryRows} (out of stock ${summary.outOfStockRows}), consent rows ${summary.consentRows} (personalisation refused ${summary.personalisationRefused})`,
      ].join('\n') + '\n',
    );
  }
}, 'generate');
