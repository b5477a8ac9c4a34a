/**
 * npm run migrate [-- --json]
 * Applies pending schema migrations (src/store/migrations/NNN_*.sql) to the configured store:
 * DATABASE_URL, else the embedded PGlite in PGLITE_DIR. Prints what it applied.
 */
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { config } from '../src/config.js';
import { openStore } from '../src/store/open-store.js';
import { redact } from '../src/store/pg-client.js';

const spec = defineCli({
  name: 'npm run migrate --',
  summary:
    'Applies pending schema migrations to the store (DATABASE_URL, else embedded PGlite in PGLITE_DIR) and prints their names.',
  flags: {
    json: { type: 'boolean', description: 'print {"backend", "location", "applied": [...]} on stdout' },
  },
  epilog: 'Exit codes: 0 ok (also when already up to date), 1 failure, 2 bad usage.',
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const cfg = config();
  const location = cfg.DATABASE_URL ? redact(cfg.DATABASE_URL) : cfg.PGLITE_DIR;
  const store = await openStore(cfg, { migrate: false });
  try {
    const applied = await store.migrate();
    if (flags.json) process.stdout.write(JSON.stringify({ backend: store.backend, location, applied }) + '\n');
    else if (applied.length === 0) process.stdout.write(`${store.backend} ${location}: up to date\n`);
    else process.stdout.write(`${store.backend} ${location}: applied ${applied.join(', ')}\n`);
  } finally {
    await store.close();
  }
}, 'migrate');
