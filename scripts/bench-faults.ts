/**
 * npm run bench:faults -- [--connections 50] [--fault-seconds 8] [--recover-seconds 8] [--customers 20000] [--items 5000]
 *                          [--faults redis-kill,redis-pause,pg-refuse,pg-hang] [--service-log FILE] [--json]
 *
 * Faults under load (issue 14). The service (its own process) answers the realistic mix of
 * scripts/bench-mix.ts on 50 connections while this script, in turn: kills its private Redis
 * (SIGKILL) and restarts it empty (then republishes, as an operator would), pauses it (SIGSTOP)
 * and resumes it (SIGCONT), makes PostgreSQL refuse connections and then hang (a TCP proxy on
 * loopback in front of it: stops listening, then accepts and forwards nothing). The shared
 * PostgreSQL and Redis are never touched: Redis is a private redis-server on a free port, and the
 * database a fresh one reached through the proxy.
 *
 * Per phase (the baseline; each fault while it lasts; the seconds after it ends): requests, req/s,
 * storefront lists answered and their 5xx (target 0), p50/p99 (target p99 ≤ 250 ms during a fault),
 * the share that fell back and why, store-bound routes (lookup, events) by status, and the time to
 * recover after each fault: from the moment it ends to the end of the last answer affected by it
 * (a 5xx or a fallback for cache_unavailable / store_unavailable).
 */
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { load1, mixRequests, rssMiB, runMix, type Sample, startMixWorld, type WindowStats, windowStats } from './bench-mix.js';

const spec = defineCli({
  name: 'npm run bench:faults --',
  summary: 'Faults under load: Redis killed/paused, PostgreSQL refusing/hanging, while the service answers a realistic mix.',
  flags: {
    connections: { type: 'int', default: 50, description: 'concurrent connections' },
    'fault-seconds': { type: 'int', default: 8, description: 'how long each fault lasts' },
    'recover-seconds': { type: 'int', default: 8, description: 'seconds measured after each fault ends' },
    'baseline-seconds': { type: 'int', default: 8, description: 'seconds measured before the first fault' },
    customers: { type: 'int', default: 20000, description: 'customers (more than the record LRU of 10,000: personal lists read Redis)' },
    items: { type: 'int', default: 5000, description: 'items of the synthetic bundle' },
    json: { type: 'boolean', description: 'one JSON document on stdout' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress lines on stderr' },
    faults: { type: 'string', placeholder: 'LIST', description: 'only these faults: redis-kill,redis-pause,pg-refuse,pg-hang (default all)' },
    'service-log': { type: 'string', placeholder: 'FILE', description: "write the service's log lines here (default: discarded)" },
  },
  epilog: 'Needs redis-server on PATH and a PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test) where it may create a database.\nExit codes: 0 ok, 1 failure, 2 bad usage.',
});

interface Phase {
  name: string;
  stats: WindowStats;
  recoverMs?: number;
}

const FAULTS = ['redis-kill', 'redis-pause', 'pg-refuse', 'pg-hang'];
const AFFECTED = new Set(['cache_unavailable', 'store_unavailable']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

runCli(async () => {
  const { flags } = parseCli(spec);
  const log = (s: string) => {
    if (!flags.quiet) process.stderr.write(`${s}\n`);
  };
  const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const world = await startMixWorld({ databaseUrl, items: flags.items, customers: flags.customers, log, serviceLog: flags['service-log'] });
  const samples: Sample[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  let stopped = false;
  const phases: Phase[] = [];
  const rss: Record<string, number> = {};
  try {
    const running = runMix({
      url: world.service.url,
      connections: flags.connections,
      next: mixRequests(world, 1),
      stop: () => stopped,
      t0,
      onSample: (s) => samples.push(s),
    });
    const faultMs = flags['fault-seconds'] * 1000;
    const recoverMs = flags['recover-seconds'] * 1000;
    // warm-up, then the baseline
    await sleep(3000);
    rss.start = rssMiB(world.service.pid);
    const from = now();
    await sleep(flags['baseline-seconds'] * 1000);
    phases.push({ name: 'baseline', stats: windowStats(samples, from, now()) });
    log(`baseline: ${phases[0].stats.rps.toFixed(0)} req/s (load ${load1()})`);

    const fault = async (name: string, begin: () => Promise<void> | void, end: () => Promise<void> | void, after: string) => {
      const start = now();
      await begin();
      log(`${name} (load ${load1()})`);
      await sleep(faultMs);
      const ended = now();
      phases.push({ name, stats: windowStats(samples, start, ended) });
      await end();
      log(`  ${after}`);
      await sleep(recoverMs);
      // the last answer a fault affected, among requests sent after it ended
      const affected = samples.filter((s) => s.start >= ended && (s.status >= 500 || s.status === 0 || (s.fallbackReason !== undefined && AFFECTED.has(s.fallbackReason))));
      const last = affected.reduce((m, s) => Math.max(m, s.end), ended);
      phases.push({ name: `  after: ${after}`, stats: windowStats(samples, ended, now()), recoverMs: last - ended });
      // when the affected answers came, per second after the fault ended (stderr)
      const perSecond = new Map<number, number>();
      for (const s of affected) perSecond.set(Math.floor((s.start - ended) / 1000), (perSecond.get(Math.floor((s.start - ended) / 1000)) ?? 0) + 1);
      log(`  affected answers per second after it ended: ${[...perSecond].map(([k, v]) => `${k} s: ${v}`).join(', ') || 'none'}`);
    };

    const only = flags.faults ? new Set(flags.faults.split(',').map((f) => f.trim())) : null;
    const unknown = [...(only ?? [])].filter((f) => !FAULTS.includes(f));
    if (unknown.length) throw new Error(`--faults: unknown ${unknown.join(', ')} (one or more of ${FAULTS.join(', ')})`);
    const run = (name: string) => !only || only.has(name);
    let republishS = 0;
    if (run('redis-kill')) await fault(
      'Redis killed (SIGKILL)',
      () => world.redis.stop(),
      async () => {
        await world.redis.start();
        republishS = await world.republish();
      },
      'restarted empty, republished',
    );
    if (run('redis-pause')) await fault('Redis paused (SIGSTOP)', () => world.redis.pause(), () => world.redis.resume(), 'resumed (SIGCONT)');
    if (run('pg-refuse')) await fault('PostgreSQL refusing', () => world.proxy.setMode('refuse'), () => world.proxy.setMode('pass'), 'accepting again');
    if (run('pg-hang')) await fault('PostgreSQL hanging', () => world.proxy.setMode('hang'), () => world.proxy.setMode('pass'), 'answering again');
    rss.end = rssMiB(world.service.pid);
    stopped = true;
    await running;

    if (flags.json) {
      process.stdout.write(JSON.stringify({ connections: flags.connections, load1: load1(), republishS, rssMiB: rss, phases }, null, 2) + '\n');
      return;
    }
    const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
    const rows = [['phase', 'req/s', 'storefront', 'sf 5xx', 'sf p50 ms', 'sf p99 ms', 'fallback %', 'fallback reasons', 'lookup+events by status', 'their p99 ms', 'recover ms']];
    for (const p of phases) {
      const s = p.stats;
      rows.push([
        p.name,
        s.rps.toFixed(0),
        String(s.storefront),
        String(s.storefront5xx),
        ms(s.storefrontP50),
        ms(s.storefrontP99),
        (100 * s.fallbackShare).toFixed(1),
        Object.entries(s.fallbackReasons).map(([k, v]) => `${k} ${v}`).join(', ') || '-',
        Object.entries(s.storeRoutes).map(([k, v]) => `${k}: ${v}`).join(', '),
        ms(s.storeRoutesP99),
        p.recoverMs === undefined ? '' : ms(p.recoverMs),
      ]);
    }
    process.stdout.write(`bench:faults: ${flags.connections} connections, realistic mix, ${flags.customers} customers, ${flags.items} items; load average (1 min) at the end ${load1()}\n`);
    const w = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(w[i])).join('  ') + '\n');
    if (run('redis-kill')) process.stdout.write(`republish after the restart took ${republishS.toFixed(1)} s (part of that recovery)\n`);
    process.stdout.write(`service RSS ${rss.start.toFixed(0)} → ${rss.end.toFixed(0)} MiB\n`);
  } finally {
    stopped = true;
    await world.close();
  }
});
