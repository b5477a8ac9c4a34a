/**
 * HTTP load generators for bench:serve: wrk (C, one thread; preferred, since on a 2-core machine a
 * Node load generator takes a whole core from the server under test) or autocannon (Node, in a child
 * process) as the fallback when wrk is not installed. Both cycle through a prepared list of
 * requests (POST bodies included), run a 2 s warm-up, then the measured run, and report req/s,
 * p50/p99 latency in ms, non-2xx responses and socket errors, and the CPU time the serving process
 * (Load.pid: the server under test, its own process in bench:serve) spent per request during the
 * measured run: a figure that, unlike req/s, barely depends on what else runs on the machine.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LoaderName = 'wrk' | 'autocannon';
export const LOADERS = ['wrk', 'autocannon'] as const;

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}
export interface Load {
  url: string;
  /** The process serving `url`, whose CPU time is counted (with its child processes': cluster workers). */
  pid: number;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
  requests: LoadRequest[];
  /** Called after the warm-up, right before the measured run starts (e.g. to read the server's counters). */
  beforeMeasured?: () => Promise<void>;
}
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU µs (user + system) of the serving process (Load.pid) per request answered in the measured run. */
  cpuUsPerReq: number;
}

let clockTicks: number | undefined;
/** CPU µs (user + system) a process has used so far: this one from process.cpuUsage(), another from /proc (Linux). */
export function cpuUsOf(pid: number): number {
  if (pid === process.pid) {
    const c = process.cpuUsage();
    return c.user + c.system;
  }
  // /proc/<pid>/stat: fields after the ")" closing the command name; utime and stime are the 12th and 13th, in clock ticks
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks;
}

/**
 * CPU µs of a process and all its descendants (Linux /proc): a node:cluster primary and its workers
 * (the service with WEB_CONCURRENCY, bare Express with WORKERS) count as one server.
 */
export function cpuUsOfTree(pid: number): number {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid);
      if (list) list.push(Number(name));
      else children.set(ppid, [Number(name)]);
    } catch {
      // the process ended meanwhile
    }
  }
  let total = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    try {
      total += cpuUsOf(p);
    } catch {
      continue;
    }
    todo.push(...(children.get(p) ?? []));
  }
  return total;
}

const WARMUP_S = 2;
const here = dirname(fileURLToPath(import.meta.url));

/** The wrk executable on PATH, or null. */
export function findWrk(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, 'wrk');
    const r = spawnSync(file, ['--version'], { stdio: 'ignore' });
    // wrk --version prints its banner and exits 1; a missing file is ENOENT
    if (!r.error) return file;
  }
  return null;
}

/** wrk when installed (or asked), else autocannon; throws when wrk is asked for but missing. */
export function chooseLoader(asked: LoaderName | undefined): { name: LoaderName; run: (load: Load) => Promise<LoadResult> } {
  const wrk = asked === 'autocannon' ? null : findWrk();
  if (asked === 'wrk' && !wrk) throw new Error('--loader wrk: no wrk on PATH (apt-get install wrk), or use --loader autocannon');
  if (wrk) return { name: 'wrk', run: (load) => runWrk(wrk, load) };
  return { name: 'autocannon', run: runAutocannon };
}

// ---------- wrk ----------

/** A Lua string literal of any text: every byte outside a safe set as a decimal escape. */
export function luaString(s: string): string {
  let out = '"';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9 ,.:;/?&=_%+\-[\]{}()*!@#$^|~<>']/.test(c) ? c : `\\${b.toString().padStart(3, '0')}`;
  }
  return out + '"';
}

/**
 * The wrk script: the requests pre-formatted once, sent in turn (wrk -t1: one Lua state, so one
 * counter), and a done() hook printing the figures as one JSON line (latencies in µs).
 */
export function wrkScript(load: Load): string {
  const headers = Object.entries(load.headers)
    .map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`)
    .join(', ');
  const rows = load.requests.map((r) => `  {${luaString(r.method)}, ${luaString(r.path)}, ${r.body === undefined ? 'nil' : luaString(r.body)}},`);
  return `local spec = {
${rows.join('\n')}
}
local headers = { ${headers} }
local formatted = {}
local n = 0
init = function(args)
  for i, r in ipairs(spec) do formatted[i] = wrk.format(r[1], r[2], headers, r[3]) end
end
request = function()
  n = n % #formatted + 1
  return formatted[n]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"status":%d,"socket":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
`;
}

interface WrkOut {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  status: number;
  socket: number;
}

/** Parses the done() line of wrkScript out of wrk's stdout (cpuUsPerReq from the CPU µs given). */
export function parseWrk(stdout: string, cpuUs: number): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '));
  if (!line) throw new Error(`wrk printed no result line:\n${stdout}`);
  const w = JSON.parse(line.slice('WRK_RESULT '.length)) as WrkOut;
  return {
    rps: w.requests / (w.duration_us / 1e6),
    p50: w.p50_us / 1000,
    p99: w.p99_us / 1000,
    non2xx: w.status,
    errors: w.socket,
    cpuUsPerReq: cpuUs / Math.max(1, w.requests),
  };
}

/** Runs a command, resolving to its stdout; onOutput sees the stdout so far after each chunk. */
function exec(file: string, args: string[], onOutput?: (soFar: string) => void): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      onOutput?.(out);
    });
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${file} exited ${code}:\n${out}`))));
  });
}

async function runWrk(wrk: string, load: Load): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'omnirec-wrk-'));
  try {
    const script = join(dir, 'load.lua');
    writeFileSync(script, wrkScript(load));
    const args = (s: number) => ['-t1', `-c${load.connections}`, `-d${s}s`, '--timeout', '10s', '-s', script, load.url];
    await exec(wrk, args(WARMUP_S));
    await load.beforeMeasured?.();
    const cpu = cpuUsOfTree(load.pid);
    const out = await exec(wrk, args(load.seconds));
    return parseWrk(out, cpuUsOfTree(load.pid) - cpu);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------- autocannon ----------

/** The worker's line between warm-up and measured run. */
const MEASURING = 'MEASURING';

/** Child process (bench-serve.ts --worker FILE): autocannon cycling through the prepared requests. */
export async function autocannonWorker(specFile: string): Promise<void> {
  type Result = { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number };
  const name: string = 'autocannon'; // untyped package: no @types
  const { default: autocannon } = (await import(name)) as { default: (opts: unknown) => Promise<Result> };
  const load = JSON.parse(readFileSync(specFile, 'utf8')) as Load;
  let n = 0;
  const run = (seconds: number) =>
    autocannon({
      url: load.url,
      connections: load.connections,
      duration: seconds,
      headers: load.headers,
      requests: [
        {
          setupRequest: (req: Record<string, unknown>) => {
            const r = load.requests[n++ % load.requests.length];
            return { ...req, method: r.method, path: r.path, body: r.body };
          },
        },
      ],
    });
  await run(WARMUP_S);
  process.stdout.write(`${MEASURING}\n`);
  const r = await run(load.seconds);
  const out = { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors, requests: r.requests.average * load.seconds };
  process.stdout.write(JSON.stringify(out));
}

async function runAutocannon(load: Load): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'omnirec-load-'));
  try {
    const file = join(dir, 'load.json');
    const tsx = join(here, '..', 'node_modules', '.bin', 'tsx');
    let cpu: number | null = null;
    const { beforeMeasured, ...spec } = load;
    writeFileSync(file, JSON.stringify(spec));
    const out = await exec(tsx, [join(here, 'bench-serve.ts'), '--worker', file], (soFar) => {
      if (cpu === null && soFar.includes(MEASURING)) {
        cpu = cpuUsOfTree(load.pid);
        // the autocannon worker does not wait: the counters are read as its measured run begins
        void beforeMeasured?.();
      }
    });
    const cpuUs = cpuUsOfTree(load.pid) - (cpu ?? cpuUsOfTree(load.pid));
    const { requests, ...r } = JSON.parse(out.slice(out.indexOf(MEASURING) + MEASURING.length)) as Omit<LoadResult, 'cpuUsPerReq'> & { requests: number };
    return { ...r, cpuUsPerReq: cpuUs / Math.max(1, requests) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------- the server's garbage collection (prom-client metrics) ----------

/** The service's GC during a measured run (from its /metrics). */
export interface GcFigures {
  /** Collections per 1,000 requests answered: minor (scavenges) and major (mark-compact). */
  minorPer1k: number;
  majorPer1k: number;
  /** GC pause time (every kind) per second of the run, ms. */
  msPerS: number;
  /** Longest possible single pause seen (the upper bound of the histogram's bucket it fell in), ms. */
  maxBucketMs: number;
}

/** Counts and sums of nodejs_gc_duration_seconds by kind, and bucket counts (le → count, summed over kinds). */
export function parseGcMetrics(text: string): { count: Record<string, number>; sum: Record<string, number>; buckets: Map<number, number> } {
  const count: Record<string, number> = {};
  const sum: Record<string, number> = {};
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = /^nodejs_gc_duration_seconds_(count|sum|bucket)\{([^}]*)\} ([0-9.e+-]+)$/.exec(line);
    if (!m) continue;
    const kind = /kind="([^"]+)"/.exec(m[2])?.[1] ?? '';
    const v = Number(m[3]);
    if (m[1] === 'count') count[kind] = (count[kind] ?? 0) + v;
    else if (m[1] === 'sum') sum[kind] = (sum[kind] ?? 0) + v;
    else {
      const le = /le="([^"]+)"/.exec(m[2])?.[1];
      const at = le === '+Inf' ? Infinity : Number(le);
      buckets.set(at, (buckets.get(at) ?? 0) + v);
    }
  }
  return { count, sum, buckets };
}

/** GcFigures between two /metrics texts, for `requests` answered over `seconds`. */
export function gcBetween(before: string, after: string, requests: number, seconds: number): GcFigures {
  const a = parseGcMetrics(before);
  const b = parseGcMetrics(after);
  const d = (r: Record<string, number>, q: Record<string, number>, k: string) => (q[k] ?? 0) - (r[k] ?? 0);
  const total = Object.keys(b.sum).reduce((s, k) => s + d(a.sum, b.sum, k), 0);
  // the smallest bucket bound holding every pause of the run
  let maxBucketMs = 0;
  const all = d(a.count, b.count, 'minor') + d(a.count, b.count, 'major') + d(a.count, b.count, 'incremental') + d(a.count, b.count, 'weakcb');
  for (const le of [...b.buckets.keys()].sort((x, y) => x - y)) {
    if ((b.buckets.get(le) ?? 0) - (a.buckets.get(le) ?? 0) >= all) {
      maxBucketMs = le * 1000;
      break;
    }
  }
  const per1k = (kind: string) => (1000 * d(a.count, b.count, kind)) / Math.max(1, requests);
  return { minorPer1k: per1k('minor'), majorPer1k: per1k('major'), msPerS: (1000 * total) / seconds, maxBucketMs };
}
