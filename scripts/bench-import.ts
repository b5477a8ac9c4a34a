/**
 * npm run bench:import -- [--data ../shared/data/online_retail.csv.gz] [--pglite] [--write-only] [--command] [--json]
 * Imports the whole file through the real pipeline (importFile → Store.importPlan) into a
 * fresh PostgreSQL database and, in the same run, times a plain COPY of the same decompressed
 * CSV into a staging table with the file's columns; prints rows, seconds, rows/s and the ratio.
 * --write-only plans every batch into memory first (untimed), then times only the writes, with
 * the time spent in each kind of statement (client-side wall, so server work plus round trip).
 * --command: also times the whole commands, start-up included, each into a fresh database:
 * `npm run import -- FILE` (as typed: npm's start-up and banner included) against `gunzip -c FILE | psql -c "COPY … FROM STDIN"` (a raw COPY), with the
 * import command's CPU seconds (under /usr/bin/time: npm, node and its threads), which a busy machine does not inflate as it does walls
 * (after one untimed `npm run import -- --help`: the compiled tree is built then if the sources changed).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import pg from 'pg';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { progressBar } from '../src/cli/progress.js';
import { importBatches, type ImportBatch } from '../src/ingest/import-batches.js';
import { importFile } from '../src/ingest/import-file.js';
import { openStore } from '../src/store/open-store.js';
import { redact } from '../src/store/pg-client.js';
import type { SqlClient } from '../src/store/sql-client.js';
import { SqlStore } from '../src/store/sql-store.js';
import { statementTimes, type StatementTimes } from './timed-sql.js';

const spec = defineCli({
  name: 'npm run bench:import --',
  summary:
    'Times the import pipeline on a whole file against a plain COPY of the same CSV (same run, fresh database).',
  flags: {
    data: { type: 'string', default: '../shared/data/online_retail.csv.gz', placeholder: 'FILE', description: 'CSV file (plain or gzipped)' },
    'database-url': { type: 'string', placeholder: 'URL', description: 'server to create the scratch database on [default: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test]' },
    'batch-size': { type: 'int', default: 20000, description: 'order lines per store batch' },
    pglite: { type: 'boolean', description: 'also run both on the embedded PGlite (in memory)' },
    worker: { type: 'string', default: 'auto', placeholder: 'auto|on|off', description: 'read and plan in a worker thread (auto: files of 4 MiB and more)' },
    reimport: { type: 'boolean', description: 'also time importing the same file a second time (idempotence: 0 new lines)' },
    'write-only': { type: 'boolean', description: 'read and plan the whole file first (untimed), then time only the store writes, per kind of statement' },
    command: { type: 'boolean', description: 'also time the whole `npm run import` command against a raw COPY by psql (start-up included)' },
    keep: { type: 'boolean', description: 'keep the scratch database (its name is printed)' },
    json: { type: 'boolean', description: 'print one JSON document on stdout' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
  epilog: 'Exit codes: 0 ok, 1 failure, 2 bad usage.',
});

/** Staging tables with the file's columns: natural types, and all text (the cheapest COPY). */
const stagingTyped = (cols: string[]) => {
  const types: Record<string, string> = { quantity: 'integer', unitprice: 'numeric', price: 'numeric', invoicedate: 'timestamp' };
  return cols.map((c) => `"${c}" ${types[c.toLowerCase().replace(/\s+/g, '')] ?? 'text'}`).join(', ');
};

interface Timed {
  seconds: number;
  rows: number;
  /** CPU seconds of this process and of the database server's backends (null: not measurable). */
  clientCpu: number;
  serverCpu: number | null;
}

/**
 * CPU seconds used so far by the server processes serving this database (PostgreSQL on this
 * machine: /proc/<pid>/stat), so figures can be compared even when the machine is busy.
 */
async function serverCpu(db: SqlClient): Promise<Map<number, number> | null> {
  if (db.dialect !== 'postgres') return null;
  const r = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  const out = new Map<number, number>();
  for (const { pid } of r.rows) {
    try {
      const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      return null;
    }
  }
  return out;
}
const cpuDelta = (a: Map<number, number> | null, b: Map<number, number> | null): number | null => {
  if (!a || !b) return null;
  let s = 0;
  for (const [pid, v] of b) s += v - (a.get(pid) ?? 0);
  return round(s, 2);
};

async function measured<T>(db: SqlClient, fn: () => Promise<T>): Promise<{ value: T; seconds: number; clientCpu: number; serverCpu: number | null }> {
  const s0 = await serverCpu(db);
  const c0 = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const seconds = (performance.now() - t) / 1000;
  const c = process.cpuUsage(c0);
  const s1 = await serverCpu(db);
  return { value, seconds, clientCpu: round((c.user + c.system) / 1e6, 2), serverCpu: cpuDelta(s0, s1) };
}

async function timeCopy(db: SqlClient, table: string, columns: string, csv: Buffer): Promise<Timed> {
  await db.exec(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (${columns})`);
  const m = await measured(db, () => db.copyFrom(`COPY ${table} FROM STDIN WITH (FORMAT csv, HEADER true)`, csv));
  return { seconds: m.seconds, rows: m.value, clientCpu: m.clientCpu, serverCpu: m.serverCpu };
}

async function timeImport(store: SqlStore, path: string, batchSize: number, quiet: boolean, label: string, worker: boolean | 'auto', writeOnly = false) {
  // write-only: the same importFile over a store whose statements are timed, fed batches planned beforehand
  const times = writeOnly ? statementTimes() : null;
  const target = times ? new SqlStore(times.wrap(store.db)) : store;
  let planned: ImportBatch[] | null = null;
  let planSeconds = 0;
  if (times) {
    const t = performance.now();
    planned = [];
    for await (const b of importBatches(path, { batchSize, worker, reserveOrderIds: (n) => target.reserveOrderIds(n) })) planned.push(b);
    planSeconds = (performance.now() - t) / 1000;
  }
  const reserved = times?.take() ?? null;
  const bar = progressBar({ label, total: 1, unit: 'bytes', quiet });
  const m = await measured(store.db, () => importFile(target, path, {
    batchSize,
    worker,
    readBatches: planned ? async function* () { yield* planned.splice(0); } : undefined,
    onProgress: (p) => bar.update(p.bytesRead, { total: p.totalBytes, info: `${p.rows.toLocaleString('en-US')} rows` }),
  }));
  bar.stop();
  // id reservations happen while planning (untimed): reported beside the timed statements
  const reservedIds = reserved?.['reserve ids'];
  const statements: StatementTimes | null = times && { ...times.take(), ...(reservedIds ? { 'reserve ids (while planning)': reservedIds } : {}) };
  return { seconds: m.seconds, summary: m.value, clientCpu: m.clientCpu, serverCpu: m.serverCpu, planSeconds: round(planSeconds), statements };
}

/** COPY twice (before and after the import, best kept) around one import. */
async function benchBackend(
  name: 'postgres' | 'pglite',
  store: SqlStore,
  path: string,
  csv: Buffer,
  cols: string[],
  flags: { 'batch-size': number; quiet: boolean; reimport: boolean; worker: boolean | 'auto'; 'write-only': boolean },
) {
  const typed = stagingTyped(cols);
  const text = cols.map((c) => `"${c}" text`).join(', ');
  const copyTyped1 = await timeCopy(store.db, 'bench_staging_typed', typed, csv);
  const copyText1 = await timeCopy(store.db, 'bench_staging_text', text, csv);
  const imp = await timeImport(store, path, flags['batch-size'], flags.quiet, `import (${name})`, flags.worker, flags['write-only']);
  const copyTyped2 = await timeCopy(store.db, 'bench_staging_typed', typed, csv);
  const copyText2 = await timeCopy(store.db, 'bench_staging_text', text, csv);
  await store.db.exec('DROP TABLE bench_staging_typed; DROP TABLE bench_staging_text');
  const again = flags.reimport ? await timeImport(store, path, flags['batch-size'], flags.quiet, `re-import (${name})`, flags.worker, flags['write-only']) : null;
  const best = (a: Timed, b: Timed) => (a.seconds <= b.seconds ? a : b);
  const ct = best(copyTyped1, copyTyped2);
  const cx = best(copyText1, copyText2);
  const copyTyped = ct.seconds;
  const copyText = cx.seconds;
  const s = imp.summary;
  return {
    backend: name,
    rows: s.rows,
    import: { seconds: round(imp.seconds), rowsPerSecond: Math.round(s.rows / imp.seconds), clientCpu: imp.clientCpu, serverCpu: imp.serverCpu },
    /** --write-only: seconds spent reading and planning beforehand (untimed), and per kind of statement. */
    planSeconds: flags['write-only'] ? imp.planSeconds : undefined,
    statements: imp.statements ?? undefined,
    copyTyped: { seconds: round(copyTyped), rows: ct.rows, rowsPerSecond: Math.round(ct.rows / copyTyped), clientCpu: ct.clientCpu, serverCpu: ct.serverCpu },
    copyText: { seconds: round(copyText), rows: cx.rows, rowsPerSecond: Math.round(cx.rows / copyText), clientCpu: cx.clientCpu, serverCpu: cx.serverCpu },
    ratio: round(imp.seconds / copyTyped, 2),
    ratioToTextCopy: round(imp.seconds / copyText, 2),
    reimport: again && { seconds: round(again.seconds), imported: again.summary.imported, duplicates: again.summary.duplicates, statements: again.statements ?? undefined },
    summary: {
      imported: s.imported,
      duplicates: s.duplicates,
      merges: s.merges,
      rejected: s.rejected,
      skipped: s.skipped,
      customers: s.customers,
      products: s.products,
      orders: s.orders,
      lines: s.lines,
    },
  };
}

/** A fresh scratch database on the server of baseUrl; returns its URL and a function dropping it. */
async function scratchDatabase(baseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `omnirec_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

const sh = promisify(execFile);
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The whole commands, start-up included, each into a fresh database: a raw COPY (`gunzip -c | psql`,
 * into a table of the file's columns, typed), then `npm run import`, then the COPY again (best kept).
 */
async function benchCommands(baseUrl: string, path: string, cols: string[], gzip: boolean) {
  const copyOnce = async () => {
    const db = await scratchDatabase(baseUrl);
    try {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query(`CREATE TABLE raw (${stagingTyped(cols)})`);
      await c.end();
      const t = performance.now();
      await sh('sh', ['-c', `${gzip ? 'gunzip -c' : 'cat'} ${quote(path)} | psql ${quote(db.url)} -q -v ON_ERROR_STOP=1 -c "COPY raw FROM STDIN WITH (FORMAT csv, HEADER true)"`]);
      return (performance.now() - t) / 1000;
    } finally {
      await db.drop();
    }
  };
  // the command's CPU seconds (npm, node and its threads: user + system), when GNU time is there to tell them
  const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  const importOnce = async () => {
    const db = await scratchDatabase(baseUrl);
    try {
      // exactly the command README.md documents (output to a pipe: no progress bar, as with --quiet)
      const cmd = ['npm', 'run', 'import', '--', path];
      const t = performance.now();
      const r = await (time ? sh(time, ['-f', 'bench-import-cpu %U %S', ...cmd], { env: { ...process.env, DATABASE_URL: db.url }, maxBuffer: 1 << 24 }) : sh(cmd[0], cmd.slice(1), { env: { ...process.env, DATABASE_URL: db.url }, maxBuffer: 1 << 24 }));
      const seconds = (performance.now() - t) / 1000;
      const m = /bench-import-cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
      return { seconds, cpu: m ? round(Number(m[1]) + Number(m[2]), 2) : null };
    } finally {
      await db.drop();
    }
  };
  // untimed: the compiled tree of the current sources built if it is not yet (scripts/run.mjs: about 1 s
  // once after a source change, then reused), so that what is timed is a run of the command as it is
  // every other time, not the build
  await sh('npm', ['run', '--silent', 'import', '--', '--help'], { maxBuffer: 1 << 24 });
  const copy1 = await copyOnce();
  const imp = await importOnce();
  const copy2 = await copyOnce();
  const copy = Math.min(copy1, copy2);
  return { importCommand: round(imp.seconds), importCommandCpu: imp.cpu, rawCopyCommand: round(copy), ratio: round(imp.seconds / copy, 2) };
}

const round = (x: number, d = 3) => Number(x.toFixed(d));
const n = (x: number) => x.toLocaleString('en-US');

runCli(async () => {
  const { flags } = parseCli(spec);
  if (flags['batch-size'] < 1) throw new UsageError('--batch-size must be at least 1');
  const modes: Record<string, boolean | 'auto'> = { auto: 'auto', on: true, off: false };
  if (!(flags.worker in modes)) throw new UsageError('--worker must be auto, on or off');
  const opts = { ...flags, worker: modes[flags.worker] };
  const path = flags.data;
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch {
    throw new UsageError(`cannot read --data ${path}`);
  }
  const csv = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  const header = csv.subarray(0, csv.indexOf(10)).toString('utf8').replace(/\r$/, '');
  const cols = header.split(',').map((c) => c.replace(/^"|"$/g, ''));

  const baseUrl = flags['database-url'] ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const dbName = `omnirec_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${dbName}`;

  const results = [];
  const store = await openStore({ DATABASE_URL: url.toString(), PGLITE_DIR: 'memory://' });
  try {
    results.push(await benchBackend('postgres', store, path, csv, cols, opts));
  } finally {
    await store.close();
    if (!flags.keep) {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
    }
  }
  if (flags.pglite) {
    const lite = await openStore({ PGLITE_DIR: 'memory://' });
    try {
      results.push(await benchBackend('pglite', lite, path, csv, cols, opts));
    } finally {
      await lite.close();
    }
  }

  const commands = flags.command ? await benchCommands(baseUrl, path, cols, raw[0] === 0x1f && raw[1] === 0x8b) : null;
  const doc = { data: path, loadavg: os.loadavg().map((x) => round(x, 1)), bytes: csv.length, batchSize: flags['batch-size'], worker: flags.worker, writeOnly: flags['write-only'], database: flags.keep ? redact(url.toString()) : null, results, commands };
  if (flags.json) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  const out = [`${path}: ${n(csv.length)} bytes decompressed, batch size ${flags['batch-size']}, reader thread ${flags.worker}${flags['write-only'] ? ', WRITE ONLY (planned beforehand)' : ''}, load average ${doc.loadavg.join(' ')}`];
  const breakdown = (label: string, t: StatementTimes) =>
    `  ${label}: ` + Object.entries(t).map(([k, v]) => `${k} ${v.seconds.toFixed(3)} s/${v.calls}`).join(', ');
  const cpu = (t: { clientCpu: number; serverCpu: number | null }) => `cpu client ${t.clientCpu.toFixed(2)} s, server ${t.serverCpu === null ? 'n/a' : `${t.serverCpu.toFixed(2)} s`}`;
  for (const r of results) {
    out.push(
      `${r.backend}: ${n(r.rows)} rows`,
      `  ${flags['write-only'] ? 'writes only      ' : 'import pipeline  '} ${r.import.seconds.toFixed(2)} s  ${n(r.import.rowsPerSecond)} rows/s   (${cpu(r.import)})`,
      `  COPY typed cols   ${r.copyTyped.seconds.toFixed(2)} s  ${n(r.copyTyped.rowsPerSecond)} rows/s   ratio import/COPY ${r.ratio}   (${cpu(r.copyTyped)})`,
      `  COPY text cols    ${r.copyText.seconds.toFixed(2)} s  ${n(r.copyText.rowsPerSecond)} rows/s   ratio import/COPY ${r.ratioToTextCopy}   (${cpu(r.copyText)})`,
      `  imported ${n(r.summary.imported)}, duplicates ${n(r.summary.duplicates)}, merges ${r.summary.merges}`,
      `  rejected ${JSON.stringify(r.summary.rejected)}, skipped ${JSON.stringify(r.summary.skipped)}`,
      `  store: customers ${n(r.summary.customers)}, products ${n(r.summary.products)}, orders ${n(r.summary.orders)}, lines ${n(r.summary.lines)}`,
    );
    if (r.statements) out.push(`  planned beforehand in ${r.planSeconds} s`, breakdown('statements (wall s/calls)', r.statements));
    if (r.reimport) out.push(`  re-import         ${r.reimport.seconds.toFixed(2)} s  imported ${n(r.reimport.imported)}, duplicates ${n(r.reimport.duplicates)}`);
    if (r.reimport?.statements) out.push(breakdown('re-import statements', r.reimport.statements));
  }
  if (commands) {
    const cpu = commands.importCommandCpu === null ? '' : ` (cpu ${commands.importCommandCpu.toFixed(2)} s: npm, node, its threads)`;
    out.push(`whole commands (start-up included): npm run import ${commands.importCommand.toFixed(2)} s${cpu}, raw COPY by psql ${commands.rawCopyCommand.toFixed(2)} s, ratio ${commands.ratio}`);
  }
  if (flags.keep) out.push(`kept database ${redact(url.toString())}`);
  process.stdout.write(out.join('\n') + '\n');
}, 'bench:import');
