/**
 * npm run import -- <file|dir>... [--json] [--strict] [--batch-size N] [--country-code CC] [--source NAME]
 *   [--encoding utf8|latin1] [--max-field-bytes N] [--max-field-lines N] [--rejects FILE] [--quiet]
 * Imports order files (Online Retail / Online Retail II / canonical CSV or NDJSON), store inventory
 * and consent into the configured store (DATABASE_URL, else the embedded PGlite in PGLITE_DIR).
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { progressBar } from '../src/cli/progress.js';
import { storeConfig } from '../src/config-store.js';
import { MAX_FIELD_BYTES, MAX_FIELD_LINES } from '../src/ingest/csv-records.js';
import { expandImportPaths, importFiles, type ImportSummary } from '../src/ingest/import-file.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';

const spec = defineCli({
  name: 'npm run import --',
  summary:
    'Imports purchase histories, inventory and consent (format detected from each header; gzip detected) into the store.\n' +
    'A directory imports every .csv/.ndjson/.json in it (orders first, then inventory, consent, offers).',
  usage: '<file|dir>...',
  flags: {
    json: { type: 'boolean', description: 'print one JSON summary document on stdout' },
    strict: { type: 'boolean', description: 'exit 1 if any row was rejected (after importing and reporting)' },
    'batch-size': { type: 'int', default: 20000, description: 'order lines per database batch (the first ones smaller: 2,500, then doubled up to N, so that writing starts sooner)' },
    'country-code': { type: 'string', placeholder: 'CC', description: 'country code for national phone numbers [default: DEFAULT_COUNTRY_CODE or 44]' },
    source: { type: 'string', placeholder: 'NAME', description: "the system the files' order ids belong to (orders are keyed by source and order id) [default: each row's channel]" },
    encoding: { type: 'string', choices: ['utf8', 'latin1'], default: 'utf8', description: 'text encoding of the files (utf8: rows with invalid UTF-8 are rejected; latin1 transcodes)' },
    'max-field-bytes': { type: 'int', default: MAX_FIELD_BYTES, description: 'longest record (a quoted field over line breaks, or one line) before it is rejected' },
    'max-field-lines': { type: 'int', default: MAX_FIELD_LINES, description: 'most lines a quoted field may span before its record is rejected' },
    rejects: { type: 'string', placeholder: 'FILE', description: 'write every rejected row to FILE (NDJSON: file, row, reason, raw)' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
  positionals: { min: 1 },
  epilog:
    'Every row is accounted for: per file, rows = imported + duplicates + rejected + skipped.\n' +
    'Exit codes: 0 ok, 1 failure (a file that cannot be read to its end, or rejections with --strict), 2 bad usage.\nSee docs/data-formats.md for the formats.',
});

/** A count with thousands separators, as toLocaleString('en-US') writes it (whose first call loads ICU: ~25 ms). */
const n = (x: number) => (Number.isSafeInteger(x) ? String(x).replace(/\B(?=(\d{3})+$)/g, ',') : x.toLocaleString('en-US'));
const list = (o: Record<string, number>) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ') || 'none';

function report(s: ImportSummary): string {
  const rejected = Object.values(s.rejected).reduce((a, b) => a + b, 0);
  const skipped = Object.values(s.skipped).reduce((a, b) => a + b, 0);
  const out = [`imported ${s.files.length} file${s.files.length === 1 ? '' : 's'} in ${s.seconds.toFixed(2)} s`];
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  for (const f of s.files) {
    out.push(
      `  ${f.path} (${f.kind}, ${f.format}): rows ${n(f.rows)} = imported ${n(f.imported)} + duplicates ${n(f.duplicates)} + rejected ${n(sum(f.rejected))} + skipped ${n(sum(f.skipped))}, ${f.seconds.toFixed(2)} s`,
    );
  }
  out.push(`rows ${n(s.rows)}: imported ${n(s.imported)}, already present ${n(s.duplicates)}, skipped ${n(skipped)}, rejected ${n(rejected)}`);
  if (skipped) out.push(`  skipped by reason: ${list(s.skipped)}`);
  if (rejected) {
    out.push(`  rejected by reason: ${list(s.rejected)}`);
    out.push('  first rejected rows:');
    for (const r of s.samples) out.push(`    ${r.file}:${r.row}  ${r.reason}  ${r.detail ? `${r.detail}  ` : ''}${JSON.stringify(r.raw ?? '')}`);
    if (s.rejected.invalid_utf8) out.push('  rows with invalid UTF-8: if the file is Latin-1 (Excel exports often are), import it with --encoding latin1');
  }
  if (s.merges) out.push(`customer merges: ${n(s.merges)}`);
  if (s.conflicts) out.push(`identity conflicts (links refused: a second account or loyalty id, or past MAX_IDENTIFIERS_PER_CUSTOMER): ${n(s.conflicts)}`);
  if (s.erased) out.push(`records of erased people skipped: ${n(s.erased)}`);
  if (Object.keys(s.droppedIdentifiers).length) out.push(`identifiers dropped (rows kept): ${list(s.droppedIdentifiers)}`);
  out.push(`store now holds: customers ${n(s.customers)}, products ${n(s.products)}, orders ${n(s.orders)}, lines ${n(s.lines)}, stores ${n(s.stores)}`);
  return out.join('\n') + '\n';
}

/**
 * Consent choices and merges change the answers serving instances keep for 30 s (merge + consent):
 * tells every instance to forget every customer (the import does not list whom it touched), as a
 * purchase event or an erasure does for its customers (src/cache/customer-changes.ts).
 */
async function tellServingInstances(what: 'customers' | 'offers' = 'customers'): Promise<void> {
  try {
    // loaded only when there is something to tell (the Redis client is a fifth of the command's start-up), and
    // so is the whole configuration (zod: a tenth of it; the import itself reads the store's part, config-store.ts)
    const [{ announceCustomerChange }, { announceOfferChange }, { cacheKeys }, { openVectorCache }, { config }] = await Promise.all([
      import('../src/cache/customer-changes.js'),
      import('../src/cache/offer-changes.js'),
      import('../src/cache/keys.js'),
      import('../src/cache/open-vector-cache.js'),
      import('../src/config.js'),
    ]);
    const cfg = config();
    const cache = await openVectorCache(cfg, { require: true });
    try {
      const keys = cacheKeys(cfg.CACHE_PREFIX);
      // offers: every instance reloads them (src/cache/offer-changes.ts)
      if (what === 'offers') await announceOfferChange(cache, keys, { from: 'import', offers: true });
      else await announceCustomerChange(cache, keys, { from: 'import', ids: [] });
    } finally {
      await cache.close();
    }
  } catch (e) {
    process.stderr.write(`import: serving instances not told of the changes (${(e as Error).message}); they see them within 30 s\n`);
  }
}

/**
 * The store being opened, as importFiles uses it: each call waits for the opening (and fails as it does). Only
 * for a caller whose calls are methods returning promises (importFiles, given the opening as `storeReady`).
 */
function whenOpen(opening: Promise<Store>): Store {
  return new Proxy({} as Store, {
    get: (_, key) =>
      // (not a thenable: awaiting it gives it back)
      key === 'then' ? undefined : (...args: unknown[]) => opening.then((s) => (s[key as keyof Store] as (...a: unknown[]) => unknown).apply(s, args)),
  });
}

runCli(async () => {
  const { flags, positionals } = parseCli(spec);
  if (flags['batch-size'] < 1) throw new UsageError('--batch-size must be at least 1');
  if (flags['max-field-bytes'] < 1 || flags['max-field-lines'] < 1) throw new UsageError('--max-field-bytes and --max-field-lines must be at least 1');
  const source = flags.source;
  if (source !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(source)) {
    throw new UsageError(`--source must be 1 to 64 letters, digits, '_', '.', ':' or '-' (got "${source}")`);
  }
  const cc = flags['country-code'];
  if (cc !== undefined && !/^[1-9]\d{0,2}$/.test(cc)) throw new UsageError(`--country-code must be 1 to 3 digits (got "${cc}")`);
  const cfg = storeConfig();
  const files = await expandImportPaths(positionals, (path, why) => process.stderr.write(`import: skipped ${path}: not an offer file (${why})\n`));
  const sizes = await Promise.all(files.map(async (f) => (await stat(f.path)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  const before = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  // the first identity conflicts are shown (all are counted in the summary)
  let shown = 0;
  // opened (the PostgreSQL driver loaded, connected) and migrated while the first file's reader starts: importFiles
  // calls the store only once `storeReady` has resolved, so it is given one whose calls wait for the opening
  const opening = openStore(cfg, {
    migrate: false,
    onConflict: (m) => {
      if (++shown <= 10) process.stderr.write(`import: ${m}${shown === 10 ? ' (further conflicts counted, not shown)' : ''}\n`);
    },
  });
  opening.catch(() => undefined); // reported by importFiles (through `migrated`)
  // (not waiting for the disk: the import ends with a synchronous commit, which flushes them with every batch)
  const migrated = opening.then((s) => s.migrate({ durable: false }));
  migrated.catch(() => undefined); // reported by importFiles
  const store = whenOpen(opening);
  const bar = progressBar({ label: 'import', total, unit: 'bytes', quiet: flags.quiet });
  const rejects = flags.rejects === undefined ? null : createWriteStream(flags.rejects);
  let summary: ImportSummary;
  try {
    summary = await importFiles(
      store,
      // (detected above: not read again)
      files,
      {
        strict: flags.strict,
        batchSize: flags['batch-size'],
        defaultCountryCode: cc ?? cfg.DEFAULT_COUNTRY_CODE,
        source,
        encoding: flags.encoding,
        maxFieldBytes: flags['max-field-bytes'],
        maxFieldLines: flags['max-field-lines'],
        onReject: rejects ? (r) => rejects.write(JSON.stringify(r) + '\n') : undefined,
        onProgress: bar.active ? (p) => bar.update(before[p.fileIndex] + p.bytesRead, { info: `${n(p.rows)} rows` }) : undefined,
        storeReady: migrated,
      },
    );
  } finally {
    bar.stop();
    await migrated.catch(() => undefined); // (an import failing early: not closed under a migration)
    await (await opening.catch(() => null))?.close();
    if (rejects) await new Promise<void>((resolve) => rejects.end(resolve));
  }
  if (summary.merges > 0 || summary.files.some((f) => f.kind === 'consent' && f.imported > 0)) await tellServingInstances();
  if (summary.files.some((f) => f.kind === 'offers' && f.imported > 0)) await tellServingInstances('offers');
  if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else process.stdout.write(report(summary));
  if (!summary.ok) {
    const rejected = Object.values(summary.rejected).reduce((a, b) => a + b, 0);
    process.stderr.write(`import: --strict: ${n(rejected)} row${rejected === 1 ? '' : 's'} rejected\n`);
    return 1;
  }
  return 0;
}, 'import');
