/**
 * npx tsx scripts/bench-read-plan.ts [--data ../shared/data/online_retail.csv.gz] [--runs 3] [--check]
 * The import's reader-thread work alone (read, parse, plan into store batches; no database), by
 * the byte-level reader the import uses (src/ingest/uci-bytes.ts) and by the string route
 * (readDataFile). Figure: CPU seconds of the reading thread (user + system from
 * /proc/thread-self/stat; gunzip runs on libuv's thread pool and is not in it), each run in a fresh
 * process (cold, as the import's reader thread is), routes alternating. --check: also compares
 * the two routes' batches (everything but progress, which depends on read timing).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { isDeepStrictEqual, promisify } from 'node:util';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { readAndPlan, type ImportBatch } from '../src/ingest/import-batches.js';

const spec = defineCli({
  name: 'npx tsx scripts/bench-read-plan.ts',
  summary: "Reader-thread CPU of the import (read + parse + plan), byte-level vs string route, and optionally the routes' equality.",
  flags: {
    data: { type: 'string', default: '../shared/data/online_retail.csv.gz', placeholder: 'FILE', description: 'order file' },
    runs: { type: 'int', default: 3, description: 'runs per route (each in a fresh process)' },
    'batch-size': { type: 'int', default: 20000, description: 'order lines per store batch' },
    check: { type: 'boolean', description: 'compare the planned batches of both routes' },
    child: { type: 'string', placeholder: 'bytes|strings', description: '(internal) one measured run' },
  },
});

const threadCpu = (): number => {
  const f = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

async function planAll(path: string, batchSize: number, byteLevel: boolean, keep: boolean): Promise<ImportBatch[]> {
  let next = 1;
  const reserve = async (n: number) => Array.from({ length: n }, () => next++);
  const out: ImportBatch[] = [];
  for await (const b of readAndPlan(path, { batchSize }, reserve, byteLevel)) if (keep) out.push(b);
  return out;
}

/** Differences between the routes' batches (progress left out). */
function differences(a: ImportBatch[], b: ImportBatch[]): string[] {
  const out: string[] = [];
  if (a.length !== b.length) out.push(`batches: ${a.length} vs ${b.length}`);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const { bytesRead: _a, ...x } = a[i];
    const { bytesRead: _b, ...y } = b[i];
    if (x.kind === 'orders' && y.kind === 'orders') {
      if (!Buffer.from(x.plan.copy).equals(Buffer.from(y.plan.copy))) out.push(`batch ${i}: COPY bytes differ`);
      if (!isDeepStrictEqual({ ...x, plan: { ...x.plan, copy: null } }, { ...y, plan: { ...y.plan, copy: null } })) out.push(`batch ${i}: plan or counters differ`);
    } else if (!isDeepStrictEqual(x, y)) out.push(`batch ${i} differs`);
  }
  return out;
}

runCli(async () => {
  const { flags } = parseCli(spec);
  if (flags.child) {
    const c0 = threadCpu();
    await planAll(flags.data, flags['batch-size'], flags.child === 'bytes', false);
    process.stdout.write(`${threadCpu() - c0}\n`);
    return;
  }
  const run = promisify(execFile);
  const cpu: Record<'bytes' | 'strings', number[]> = { bytes: [], strings: [] };
  for (let r = 0; r < flags.runs; r++) {
    for (const route of ['strings', 'bytes'] as const) {
      const { stdout } = await run(process.execPath, [...process.execArgv, process.argv[1], '--data', flags.data, '--batch-size', String(flags['batch-size']), '--child', route]);
      cpu[route].push(Number(stdout.trim()));
    }
  }
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  const lines = [
    `${flags.data}: reader-thread CPU seconds per run (fresh process each), load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
    `  string route (readDataFile)   ${fmt(cpu.strings)}   best ${Math.min(...cpu.strings).toFixed(2)}`,
    `  byte-level reader             ${fmt(cpu.bytes)}   best ${Math.min(...cpu.bytes).toFixed(2)}`,
  ];
  if (flags.check) {
    const [a, b] = [await planAll(flags.data, flags['batch-size'], false, true), await planAll(flags.data, flags['batch-size'], true, true)];
    const diff = differences(a, b);
    const rows = a.reduce((n, x) => n + x.rowsRead, 0);
    lines.push(diff.length === 0 ? `  check: ${a.length} batches, ${rows.toLocaleString('en-US')} rows: identical` : `  check: DIFFERENT\n    ${diff.slice(0, 10).join('\n    ')}`);
    if (diff.length) process.exitCode = 1;
  }
  process.stdout.write(lines.join('\n') + '\n');
}, 'bench-read-plan');
