/**
 * npm run fuzz [-- --runs N] [--seed S] [--postgres]
 * The API fuzz suite (test/api-fuzz.test.ts: every route of the table, mutated well-formed requests and
 * hostile paths, queries, headers and bodies, both dispatchers) with more cases than CI runs. Every answer
 * must be a non-5xx with a JSON body within 5 s; a failure prints the counterexample and its seed.
 * The store is PostgreSQL when DATABASE_URL is set (as in CI), else the embedded PGlite.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';

const spec = defineCli({
  name: 'npm run fuzz --',
  summary: 'Runs the API fuzz suite (test/api-fuzz.test.ts) with N cases per route (CI runs 200).',
  flags: {
    runs: { type: 'int', default: 2000, description: 'cases per route' },
    seed: { type: 'int', description: 'replay a run (the seed printed with a counterexample)' },
  },
  epilog: 'Exit codes: 0 no failure, 1 a property failed (counterexample printed), 2 bad usage.',
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const env = { ...process.env, FUZZ_RUNS: String(flags.runs), ...(flags.seed !== undefined ? { FUZZ_SEED: String(flags.seed) } : {}) };
  const started = Date.now();
  process.stderr.write(`fuzz: ${flags.runs} cases per route, store ${process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'PGlite'}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/api-fuzz.test.ts'], { stdio: 'inherit', env });
  process.stderr.write(`fuzz: ${((Date.now() - started) / 1000).toFixed(0)} s, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  if (run.status !== 0) throw new Error('a fuzz property failed: see the counterexample above (replay with --seed)');
});
