/**
 * npm run check:store -- [--json]
 * Checks the configured history store's invariants (src/store/check-store.ts): no order without
 * lines, no duplicate keys, every line's order and product exist, every customer referenced
 * exists, merges consistent with their log… Exit 0 when all hold, 1 when any does not.
 */
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { config } from '../src/config.js';
import { openStore } from '../src/store/open-store.js';

const spec = defineCli({
  name: 'npm run check:store --',
  summary: "Checks the history store's invariants (read-only) and lists what breaks them.",
  flags: {
    json: { type: 'boolean', description: 'print one JSON document on stdout' },
  },
  epilog: 'Exit codes: 0 every invariant holds, 1 some do not (or the store cannot be read), 2 bad usage.',
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const store = await openStore(config());
  try {
    const r = await store.checkInvariants();
    if (flags.json) process.stdout.write(JSON.stringify(r) + '\n');
    else {
      const out = [`${r.checked.length} invariants checked: ${r.ok ? 'all hold' : `${r.failures.length} broken`}`];
      for (const f of r.failures) out.push(`  ${f.name}: ${f.count.toLocaleString('en-US')} (e.g. ${f.sample.join(', ')})`);
      process.stdout.write(out.join('\n') + '\n');
    }
    return r.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}, 'check:store');
