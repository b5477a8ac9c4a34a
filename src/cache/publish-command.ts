/**
 * The publish CLI (scripts/publish.ts, `npm run publish`, `npm run rollback`, `npm run models`):
 *
 *   npm run publish -- <version>|latest [--rewrite]   write models/<version> into the cache, flip, announce
 *   npm run publish -- list [--json]                  published versions, current marked
 *   npm run publish -- rollback [<version>]           back to the previous (or the named) version
 *   npm run publish -- cleanup --keep N [--orphans]   delete all but the N newest versions (never current)
 *
 * Exit codes: 0 done, 2 bad usage, 1 failure (unknown version, bad checksum, cache unreachable);
 * on failure nothing has changed in service.
 */
import { latestVersion, readBundle } from '../bundle/read-bundle.js';
import { defineCli, parseCli, UsageError } from '../cli/args.js';
import { progressBar } from '../cli/progress.js';
import { parseConfig } from '../config.js';
import { NotFoundError } from '../core/errors.js';
import { cacheKeys } from './keys.js';
import { openVectorCache, usesRedis } from './open-vector-cache.js';
import { cleanup, listVersions, publishBundle, rollback } from './publish.js';
import { openStore } from '../store/open-store.js';

export const publishSpec = defineCli({
  name: 'npm run publish --',
  summary:
    'Publishes a trained model version (MODEL_DIR/<version>) into the vector cache (Redis when REDIS_URL or\n' +
    'REDIS_CLUSTER_NODES is set, else the embedded cache in CACHE_DIR), then flips the current pointer and announces it\n' +
    'to serving instances.',
  usage: '<version>|latest | list | rollback [<version>] | cleanup --keep N',
  flags: {
    json: { type: 'boolean', description: 'one JSON document on stdout' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
    keep: { type: 'int', placeholder: 'N', description: 'cleanup: versions to keep besides the current one' },
    orphans: { type: 'boolean', description: 'cleanup: also delete unlisted versions left by a killed publish (run when no publish is in progress)' },
    rewrite: { type: 'boolean', description: 'publish: rewrite every key even if the version is already complete in the cache' },
    'batch-size': { type: 'int', default: 2000, placeholder: 'N', description: 'publish: customer records per pipelined batch' },
    'model-dir': { type: 'string', placeholder: 'DIR', description: 'bundles directory [default: MODEL_DIR]' },
  },
  positionals: { min: 1, max: 2 },
  epilog:
    'Examples:\n' +
    '  npm run publish -- latest\n  npm run publish -- list --json\n  npm run rollback\n  npm run publish -- rollback 2026-11-20\n' +
    '  npm run publish -- cleanup --keep 3\n\n' +
    'Exit codes: 0 done; 2 bad usage; 1 failure (unknown version, checksum mismatch, cache unreachable: nothing changed).',
});

const mb = (n: number) => (n < 1048576 ? `${(n / 1024).toFixed(1)} kB` : `${(n / 1048576).toFixed(1)} MB`);

/** Runs the command; writes results to `out`; throws UsageError (exit 2) or another error (exit 1). */
export async function publishMain(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
  out: (text: string) => void = (t) => process.stdout.write(t),
  /** The store's erasure list to publish through (tests); default: the history store of the configuration. */
  erasedIn?: (customerIds: readonly string[]) => Promise<Set<string>>,
): Promise<void> {
  const { flags, positionals } = parseCli(publishSpec, argv);
  const [command, arg] = positionals;
  const sub = ['list', 'rollback', 'cleanup'].includes(command) ? command : 'publish';
  if (sub !== 'rollback' && arg !== undefined) throw new UsageError(`unexpected argument "${arg}"`);
  if (sub === 'cleanup' && flags.keep === undefined) throw new UsageError('cleanup needs --keep N');
  if (sub !== 'cleanup' && flags.keep !== undefined) throw new UsageError('--keep is for cleanup only');
  if (flags.keep !== undefined && flags.keep < 0) throw new UsageError('--keep must be >= 0');
  if (flags['batch-size'] < 1) throw new UsageError('--batch-size must be >= 1');
  if (flags.orphans && sub !== 'cleanup') throw new UsageError('--orphans is for cleanup only');

  const cfg = parseConfig(env);
  if (!usesRedis(cfg) && cfg.CACHE_DIR.startsWith('memory://')) {
    process.stderr.write('publish: warning: CACHE_DIR=memory:// keeps nothing after this command; no server will see it\n');
  }
  const modelDir = flags['model-dir'] ?? cfg.MODEL_DIR;
  const keys = cacheKeys(cfg.CACHE_PREFIX);
  const print = (json: unknown, text: string) => out(flags.json ? JSON.stringify(json, null, 2) + '\n' : text + '\n');

  // read and verify the bundle before touching the cache
  let bundle;
  if (sub === 'publish') {
    const version = command === 'latest' ? await latestVersion(modelDir) : command;
    if (!version) throw new NotFoundError(`no model bundles in ${modelDir}; train one first (npm run train)`);
    bundle = await readBundle(modelDir, version);
  }

  const cache = await openVectorCache(cfg, { require: true });
  try {
    if (sub === 'publish') {
      // erased customers are filtered through the history store's erasure list (a store that keeps
      // nothing, PGLITE_DIR=memory:// without DATABASE_URL, has erased no one)
      const store = !erasedIn && (cfg.DATABASE_URL || !cfg.PGLITE_DIR.startsWith('memory://')) ? await openStore(cfg) : null;
      const bar = progressBar({ label: `publish ${bundle!.manifest.version}`, total: bundle!.customers.length, quiet: flags.quiet || flags.json });
      let r;
      try {
        r = await publishBundle(cache, keys, bundle!, {
          rewrite: flags.rewrite,
          batchSize: flags['batch-size'],
          progress: (done) => bar.update(done),
          erasedIn: erasedIn ?? (store ? (ids) => store.erasedCustomerIds(ids) : undefined),
        });
      } finally {
        bar.stop();
        await store?.close();
      }
      print(
        { ...r, cache: cache.location },
        `${r.reused ? 'already in the cache, pointer moved to' : 'published'} ${r.version}: ${r.items} items, ${r.customers} customers, ` +
          `${mb(r.bytes)} in ${r.seconds.toFixed(2)} s to ${cache.location}; current: ${r.version}${r.previous ? ` (was ${r.previous})` : ''}`,
      );
    } else if (sub === 'list') {
      const versions = await listVersions(cache, keys);
      const rows = versions.map((v) => [
        v.current ? '*' : ' ',
        v.version,
        v.createdAt.slice(0, 19),
        v.publishedAt.slice(0, 19),
        String(v.items),
        String(v.customers),
        mb(v.bytes),
      ]);
      const head = [' ', 'version', 'created', 'published', 'items', 'customers', 'size'];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const fmt = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
      print(
        { cache: cache.location, current: versions.find((v) => v.current)?.version ?? null, versions },
        versions.length ? [fmt(head), ...rows.map(fmt)].join('\n') : `no versions published in ${cache.location}`,
      );
    } else if (sub === 'rollback') {
      const r = await rollback(cache, keys, arg);
      print(r, `current: ${r.to}${r.from ? ` (was ${r.from})` : ''}`);
    } else {
      const r = await cleanup(cache, keys, flags.keep!, { orphans: flags.orphans });
      print(r, `${r.deleted.length ? `deleted ${r.deleted.join(', ')} (${r.keys} keys)` : 'nothing to delete'}; kept ${r.kept.join(', ') || 'none'}`);
    }
  } finally {
    await cache.close();
  }
}
