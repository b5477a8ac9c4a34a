/**
 * npm run bench:soak -- [--minutes 5] [--connections 50] [--share 0.7] [--rate R] [--interval 30] [--customers 20000] [--items 5000] [--json]
 *
 * Sustained load (issue 14): the world and realistic mix of scripts/bench-mix.ts (purchase events
 * included), first closed-loop on `--connections` for 10 s to measure the peak, then paced at
 * `--share` (70 %) of that peak for `--minutes`. The peak is the mix's: the rate at which every kind
 * of request is answered 2xx in its share of the mix, min over kinds of (2xx/s of the kind) / (its
 * share), so that neither fast 503s nor a cheap route's surplus while a dear one fails count as
 * capacity. Prints per interval: req/s, p50/p99 of storefront lists, p99 of lookup and of events,
 * errors (5xx, socket errors, client timeouts; by kind; any other non-2xx counted apart) and the
 * service's resident memory; then the totals and memory at start and end.
 */
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { cpuUsOfTree } from './load-generator.js';
import { stabilityVerdict } from './soak-stability.js';
import { load1, MIX_SHARE, mixRequests, rssMiB, runMix, type Sample, STOREFRONT, startMixWorld } from './bench-mix.js';

const spec = defineCli({
  name: 'npm run bench:soak --',
  summary: 'Sustained load at a share of the measured peak over the realistic mix: errors, p99 over time, resident memory.',
  flags: {
    minutes: { type: 'number', default: 5, description: 'how long the paced run lasts' },
    connections: { type: 'int', default: 50, description: 'connections (closed loop for the peak; at most this many in flight after)' },
    share: { type: 'number', default: 0.7, description: 'share of the measured peak to run at' },
    rate: { type: 'number', description: 'run at this many req/s instead of share × peak (the peak is still measured and shown)' },
    interval: { type: 'int', default: 30, description: 'seconds per reported interval' },
    customers: { type: 'int', default: 20000, description: 'customers' },
    items: { type: 'int', default: 5000, description: 'items of the synthetic bundle' },
    json: { type: 'boolean', description: 'one JSON document on stdout' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress lines on stderr' },
    'cpu-prof': { type: 'string', description: 'write a V8 CPU profile of the service (node --cpu-prof) into this directory when it stops' },
  },
  epilog: 'Needs redis-server on PATH and a PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test) where it may create a database.\nExit codes: 0 ok, 1 failure, 2 bad usage.',
});

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};

interface Interval {
  atS: number;
  rps: number;
  storefrontP50: number;
  storefrontP99: number;
  storeRoutesP99: number;
  lookupP99: number;
  eventsP99: number;
  errors: number;
  /** Errors by kind of request. */
  errorsByKind: Record<string, number>;
  other4xx: number;
  rssMiB: number;
  load1: string;
  /** CPU µs (user + system) the service spent per request answered in the interval: barely depends on the machine's load. */
  cpuUsPerReq: number;
  /** The load generator's (this process's) CPU share of one core in the interval (near 1: it, not the service, sets the pace). */
  loaderCpu: number;
  /** The service's garbage collection in the interval (ms per s of wall time) and its heap in use at the end. */
  gcMsPerS: number;
  heapMiB: number;
  /** The service's event-loop delay p99 (ms) since the previous interval (prom-client's monitor). */
  loopLagP99: number;
}

/** The service's own figures from /metrics (prom-client's default metrics). */
async function serviceMetrics(url: string): Promise<{ gcS: number; heapMiB: number; lagP99Ms: number }> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    let gcS = 0;
    let heapMiB = NaN;
    let lagP99Ms = NaN;
    for (const line of text.split('\n')) {
      if (line.startsWith('nodejs_gc_duration_seconds_sum')) gcS += Number(line.slice(line.lastIndexOf(' ') + 1));
      else if (line.startsWith('nodejs_heap_size_used_bytes ')) heapMiB = Number(line.slice(line.lastIndexOf(' ') + 1)) / 2 ** 20;
      else if (line.startsWith('nodejs_eventloop_lag_p99_seconds ')) lagP99Ms = Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    }
    return { gcS, heapMiB, lagP99Ms };
  } catch {
    return { gcS: NaN, heapMiB: NaN, lagP99Ms: NaN };
  }
}

runCli(async () => {
  const { flags } = parseCli(spec);
  const log = (s: string) => {
    if (!flags.quiet) process.stderr.write(`${s}\n`);
  };
  const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const cpuProf = flags['cpu-prof'];
  const world = await startMixWorld({
    databaseUrl,
    items: flags.items,
    customers: flags.customers,
    log,
    nodeArgs: cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [],
  });
  try {
    // the peak: closed loop, after a 3 s warm-up
    const peakSamples: Sample[] = [];
    let t0 = performance.now();
    let end = t0 + 13_000;
    await runMix({ url: world.service.url, connections: flags.connections, next: mixRequests(world, 11), stop: () => performance.now() > end, t0, onSample: (s) => peakSamples.push(s) });
    // the peak is the mix answered well (2xx) per second: fast 503s under overload are no capacity,
    // and neither is a cheap route's surplus while a dear one fails: the mix runs at the rate its
    // scarcest kind allows, min over kinds of (2xx of that kind per s) / (its share of the mix)
    const measured = peakSamples.filter((s) => s.start >= 3000);
    const perKind = [...MIX_SHARE].map(([kind, share]) => {
      const all = measured.filter((s) => s.kind === kind);
      const ok = all.filter((s) => s.status >= 200 && s.status < 300).length / 10;
      return { kind, share, ok, other: all.length / 10 - ok, mixRps: ok / share };
    });
    const all2xx = measured.filter((s) => s.status >= 200 && s.status < 300).length / 10;
    const closedPeak = Math.min(...perKind.map((k) => k.mixRps));
    log(`peak (closed loop): ${perKind.map((k) => `${k.kind} ${k.ok.toFixed(0)}/s ok${k.other ? ` + ${k.other.toFixed(0)}/s not` : ''}`).join(', ')}; all 2xx ${all2xx.toFixed(0)}/s; the mix at ${closedPeak.toFixed(0)}/s (limited by ${perKind.find((k) => k.mixRps === closedPeak)?.kind})`);
    // a closed loop runs past capacity: routes with a deadline (events, lookup) may fail there although
    // the mix runs well at a lower rate. Then the peak is the highest rate of a ladder below the closed
    // loop's 2xx rate at which every kind of the mix is answered 2xx (at least 99 %), 8 s per step
    let peak = closedPeak;
    const ladder: { rate: number; worst: string; okShare: number }[] = [];
    if (closedPeak < 0.95 * all2xx) {
      for (const f of [0.9, 0.75, 0.6, 0.5, 0.4, 0.3, 0.2]) {
        await new Promise((r) => setTimeout(r, 3000));
        const r = all2xx * f;
        const step: Sample[] = [];
        t0 = performance.now();
        end = t0 + 10_000;
        await runMix({ url: world.service.url, connections: flags.connections, rate: r, next: mixRequests(world, 13), stop: () => performance.now() > end, t0, onSample: (x) => step.push(x) });
        const kinds = [...MIX_SHARE.keys()].map((kind) => {
          const all = step.filter((x) => x.kind === kind && x.start >= 2000);
          return { kind, okShare: all.length ? all.filter((x) => x.status >= 200 && x.status < 300).length / all.length : 0 };
        });
        const worst = kinds.reduce((a, b) => (b.okShare < a.okShare ? b : a));
        ladder.push({ rate: r, worst: worst.kind, okShare: worst.okShare });
        log(`  paced at ${r.toFixed(0)} req/s: worst ${worst.kind} ${(100 * worst.okShare).toFixed(1)} % 2xx (load ${load1()})`);
        if (worst.okShare >= 0.99) {
          peak = r;
          break;
        }
      }
    }
    if (!(peak > 0) && flags.rate === undefined) {
      throw new Error(`no capacity for the mix at ${flags.connections} connections: a kind of request got no 2xx answer (see above); try --rate`);
    }
    const rate = flags.rate ?? peak * flags.share;
    // what the closed loop left queued in the store drains first
    await new Promise((r) => setTimeout(r, 5000));
    log(`peak ${peak.toFixed(0)} req/s (load ${load1()}); soaking at ${rate.toFixed(0)} req/s for ${flags.minutes} min`);

    const rssStart = rssMiB(world.service.pid);
    const samples: Sample[] = [];
    const intervals: Interval[] = [];
    t0 = performance.now();
    end = t0 + flags.minutes * 60_000;
    const stepMs = flags.interval * 1000;
    let next = stepMs;
    let from = 0;
    let cpuMark = cpuUsOfTree(world.service.pid);
    let loaderMark = process.cpuUsage();
    let metricsMark = await serviceMetrics(world.service.url);
    let wallMark = performance.now();
    const report = async () => {
      const cpu = cpuUsOfTree(world.service.pid);
      const loader = process.cpuUsage(loaderMark);
      const wall = performance.now();
      const m = await serviceMetrics(world.service.url);
      const win = samples.filter((s) => s.start >= from && s.start < next);
      const lat = (pred: (s: Sample) => boolean) => win.filter(pred).map((s) => s.end - s.start);
      const i: Interval = {
        atS: next / 1000,
        rps: win.length / ((next - from) / 1000),
        storefrontP50: quantile(lat((s) => STOREFRONT.has(s.kind)), 0.5),
        storefrontP99: quantile(lat((s) => STOREFRONT.has(s.kind)), 0.99),
        storeRoutesP99: quantile(lat((s) => !STOREFRONT.has(s.kind)), 0.99),
        lookupP99: quantile(lat((s) => s.kind === 'lookup'), 0.99),
        eventsP99: quantile(lat((s) => s.kind === 'event'), 0.99),
        errors: win.filter((s) => s.status >= 500 || s.status === 0).length,
        errorsByKind: win.filter((s) => s.status >= 500 || s.status === 0).reduce<Record<string, number>>((a, s) => ((a[s.kind] = (a[s.kind] ?? 0) + 1), a), {}),
        other4xx: win.filter((s) => s.status >= 400 && s.status < 500).length,
        rssMiB: rssMiB(world.service.pid),
        load1: load1(),
        cpuUsPerReq: (cpu - cpuMark) / Math.max(1, win.length),
        loaderCpu: (loader.user + loader.system) / 1000 / (wall - wallMark),
        gcMsPerS: ((m.gcS - metricsMark.gcS) * 1000) / ((wall - wallMark) / 1000),
        heapMiB: m.heapMiB,
        loopLagP99: m.lagP99Ms,
      };
      cpuMark = cpu;
      loaderMark = process.cpuUsage();
      metricsMark = m;
      wallMark = wall;
      intervals.push(i);
      log(
        `  ${i.atS.toFixed(0)} s: ${i.rps.toFixed(0)} req/s, storefront p99 ${i.storefrontP99.toFixed(0)} ms, lookup p99 ${i.lookupP99.toFixed(0)} ms, events p99 ${i.eventsP99.toFixed(0)} ms, errors ${i.errors}, ` +
          `service ${i.cpuUsPerReq.toFixed(0)} CPU µs/req, GC ${i.gcMsPerS.toFixed(0)} ms/s, loop lag p99 ${i.loopLagP99.toFixed(0)} ms, heap ${i.heapMiB.toFixed(0)} MiB, RSS ${i.rssMiB.toFixed(0)} MiB, loader CPU ${(100 * i.loaderCpu).toFixed(0)} %, load ${i.load1}`,
      );
      from = next;
      next += stepMs;
    };
    // one report at a time (each awaits the service's /metrics; `next` moves on only when it is done)
    let reporting: Promise<void> | null = null;
    const timer = setInterval(() => {
      if (reporting === null && performance.now() - t0 >= next) reporting = report().finally(() => (reporting = null));
    }, 250);
    await runMix({ url: world.service.url, connections: flags.connections, rate, next: mixRequests(world, 12), stop: () => performance.now() > end, t0, onSample: (s) => samples.push(s) });
    clearInterval(timer);
    while (reporting !== null) await reporting;
    // intervals the timer had no turn for (a report took longer than an interval)
    while (next <= end - t0) await report();
    if (from < end - t0 - 1000) {
      next = end - t0;
      await report();
    }
    const verdict = stabilityVerdict(intervals, rate);
    const rssEnd = rssMiB(world.service.pid);
    const errors = samples.filter((s) => s.status >= 500 || s.status === 0);
    const byStatus: Record<string, number> = {};
    for (const s of samples) byStatus[String(s.status)] = (byStatus[String(s.status)] ?? 0) + 1;
    const summary = {
      connections: flags.connections,
      peakRps: peak,
      peakAll2xxRps: all2xx,
      peakPerKind: perKind,
      closedLoopMixRps: closedPeak,
      ladder,
      rate,
      minutes: flags.minutes,
      requests: samples.length,
      errors: errors.length,
      byStatus,
      rssMiB: { start: rssStart, end: rssEnd },
      intervals,
      stable: verdict.stable,
      verdict,
    };
    if (flags.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      return;
    }
    process.stdout.write(
      `bench:soak: peak ${peak.toFixed(0)} req/s of the mix (closed loop, ${flags.connections} connections; ${all2xx.toFixed(0)} 2xx/s in all); ${flags.minutes} min at ${(100 * flags.share).toFixed(0)} % = ${rate.toFixed(0)} req/s over the mix (events included)\n`,
    );
    process.stdout.write(`peak per kind (2xx/s, share of the mix → the mix it allows): ${perKind.map((k) => `${k.kind} ${k.ok.toFixed(1)} (${(100 * k.share).toFixed(0)} % → ${k.mixRps.toFixed(0)})`).join(', ')}\n`);
    const rows = [['t (s)', 'req/s', 'sf p50 ms', 'sf p99 ms', 'lookup p99 ms', 'events p99 ms', 'errors', 'other 4xx', 'CPU µs/req', 'GC ms/s', 'lag p99 ms', 'heap MiB', 'RSS MiB', 'loader CPU', 'load']];
    for (const i of intervals) {
      const errs = Object.entries(i.errorsByKind).map(([k, n]) => `${k} ${n}`).join(' ');
      rows.push([i.atS.toFixed(0), i.rps.toFixed(0), i.storefrontP50.toFixed(1), i.storefrontP99.toFixed(0), i.lookupP99.toFixed(0), i.eventsP99.toFixed(0), errs ? `${i.errors} (${errs})` : '0', String(i.other4xx), i.cpuUsPerReq.toFixed(0), i.gcMsPerS.toFixed(0), i.loopLagP99.toFixed(0), i.heapMiB.toFixed(0), i.rssMiB.toFixed(0), `${(100 * i.loaderCpu).toFixed(0)} %`, i.load1]);
    }
    const w = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    for (const row of rows) process.stdout.write(row.map((c, k) => c.padEnd(w[k])).join('  ') + '\n');
    process.stdout.write(
      `requests ${samples.length}, by status ${Object.entries(byStatus).map(([k, v]) => `${k}: ${v}`).join(', ')}; errors ${errors.length}; service RSS ${rssStart.toFixed(0)} MiB at start, ${rssEnd.toFixed(0)} MiB at end\n`,
    );
    const d = verdict.drift;
    process.stdout.write(
      `p99 over the run (median of the first third of the intervals → of the last third): storefront ${d.storefrontP99.first.toFixed(0)} → ${d.storefrontP99.last.toFixed(0)} ms, ` +
        `lookup ${d.lookupP99.first.toFixed(0)} → ${d.lookupP99.last.toFixed(0)} ms, events ${d.eventsP99.first.toFixed(0)} → ${d.eventsP99.last.toFixed(0)} ms: ` +
        `${verdict.stable ? 'STABLE' : `NOT STABLE (${verdict.reasons.join('; ')})`}\n`,
    );
  } finally {
    await world.close();
  }
});
