/**
 * npx tsx scripts/bench-ingest.ts [--data ../shared/data/online_retail.csv.gz] [--lines 1000000] [--repeat 3]
 * Figures for the ingest area: reader throughput on the Online Retail file (readOrderFile and readHistoryFile),
 * generator throughput, and reader throughput on generated canonical data. Wall and CPU seconds (the CPU figure is
 * the one to trust on a shared, loaded machine); best of --repeat runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { generateDataset } from '../src/generate/generate-dataset.js';
import { readOrderFile } from '../src/ingest/read-data-file.js';
import { readHistoryFile } from '../src/ingest/read-history-file.js';

const spec = defineCli({
  name: 'npx tsx scripts/bench-ingest.ts',
  summary: 'Reader and generator throughput.',
  flags: {
    data: { type: 'string', default: '../shared/data/online_retail.csv.gz', placeholder: 'FILE', description: 'Online Retail file' },
    lines: { type: 'int', default: 1_000_000, description: 'generated lines for the generator figure' },
    repeat: { type: 'int', default: 3, description: 'runs per figure (best is reported)' },
  },
});

async function timed<T>(repeat: number, f: () => Promise<T>): Promise<{ wall: number; cpu: number; result: T }> {
  let best = { wall: Infinity, cpu: Infinity, result: undefined as T };
  for (let i = 0; i < repeat; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const result = await f();
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    if (cpu < best.cpu) best = { wall, cpu, result };
  }
  return best;
}

const fmt = (label: string, n: number, t: { wall: number; cpu: number }) =>
  `${label.padEnd(44)} ${n.toLocaleString('en-US').padStart(11)} rows  wall ${t.wall.toFixed(2)} s  cpu ${t.cpu.toFixed(2)} s  ${Math.round(n / t.cpu).toLocaleString('en-US')} rows/cpu-s`;

runCli(async () => {
  const { flags } = parseCli(spec);
  const out: string[] = [];
  const countLines = async (path: string) => {
    let n = 0;
    for await (const b of readOrderFile(path, { batchSize: 50_000 })) n += b.rowsRead;
    return n;
  };
  const r1 = await timed(flags.repeat, () => countLines(flags.data));
  out.push(fmt('readOrderFile (Online Retail, gzip)', r1.result, r1));
  const r2 = await timed(flags.repeat, async () => (await readHistoryFile(flags.data)).rows);
  out.push(fmt('readHistoryFile (Online Retail, gzip)', r2.result, r2));
  const dir = mkdtempSync(join(tmpdir(), 'omnirec-bench-ingest-'));
  try {
    const people = Math.max(1000, Math.round(flags.lines / 20));
    const g = await timed(1, async () => (await generateDataset({ out: dir, customers: people, products: Math.max(500, Math.round(flags.lines / 200)), lines: flags.lines })).lines);
    out.push(fmt(`generate (${people.toLocaleString('en-US')} people)`, g.result, g));
    const r3 = await timed(flags.repeat, () => countLines(join(dir, 'orders.csv')));
    out.push(fmt('readOrderFile (generated canonical CSV)', r3.result, r3));
    const r4 = await timed(1, async () => {
      const h = await readHistoryFile(dir);
      return h.rows;
    });
    out.push(fmt('readHistoryFile (generated, identity graph)', r4.result, r4));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  out.push(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  process.stdout.write(out.join('\n') + '\n');
}, 'bench-ingest');
