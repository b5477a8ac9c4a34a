/**
 * npm run bench:als -- --data ../shared/data/online_retail.csv.gz [--cutoff 2011-11-09] [--runs 3]
 *
 * Times the ALS fit (64 factors × 15 iterations, 3 CG steps, the evaluation's training split: exactly the `fit_s`
 * of `npm run evaluate -- --models als`) on 1 and 2 threads, checks that both give the same factors bit for bit,
 * and, side by side in the same run, implicit's CPU conjugate-gradient ALS (the C++ that implicit's Cython compiles
 * to) on the same matrix with the same confidences (c = 1 + α·w), when Python can import it: `python3 -c 'import
 * implicit.cpu._als'`, or a directory holding a built `_als` module given as --implicit-dir (see BENCHMARKS.md for
 * how it was built here; nothing of implicit is part of this repository). Also times the previous JavaScript kernel.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';
import { transpose } from '../src/core/csr.js';
import { fillNormal } from '../src/core/random.js';
import { resolveCutoff, timeSplit } from '../src/eval/time-split.js';
import { AlsRecommender, ALS_DEFAULTS, gramWithReg } from '../src/models/als.js';
import { CgPool } from '../src/models/als-parallel.js';
import { readHistory } from '../src/train/history-input.js';
import { resolveTrainConfig } from '../src/train/train-config.js';

const spec = defineCli({
  name: 'npm run bench:als --',
  summary: 'ALS fit time on 1 and 2 threads (WebAssembly SIMD kernels), beside implicit\'s C++ ALS and the JavaScript kernel, on one training split.',
  flags: {
    data: { type: 'string', placeholder: 'FILE', description: 'history file (e.g. ../shared/data/online_retail.csv.gz)' },
    cutoff: { type: 'string', placeholder: 'YYYY-MM-DD', default: '2011-11-09', description: 'train before this date' },
    runs: { type: 'int', default: 3, description: 'timed fits per variant (the best is reported beside the median)' },
    'implicit-dir': { type: 'string', placeholder: 'DIR', description: 'directory with a built implicit `_als` extension module' },
    'no-js': { type: 'boolean', description: 'skip the JavaScript kernel (slow)' },
    json: { type: 'boolean', description: 'print one JSON document' },
  },
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

runCli(async () => {
  const { flags } = parseCli(spec);
  if (!flags.data) throw new Error('give --data FILE');
  const cfg = await resolveTrainConfig({}, undefined);
  const { lines } = await readHistory({ data: flags.data });
  const split = timeSplit(lines, resolveCutoff(lines, { cutoff: flags.cutoff }), cfg.weighting);
  const data = split.weighted;
  const p = { ...ALS_DEFAULTS };
  const out: Record<string, { runs_s: number[]; best_s: number; median_s: number; threads: number }> = {};
  const record = (name: string, threads: number, runs: number[]) => {
    out[name] = { runs_s: runs.map((x) => +x.toFixed(3)), best_s: +Math.min(...runs).toFixed(3), median_s: +median(runs).toFixed(3), threads };
    if (!flags.json) process.stderr.write(`${name}: ${out[name].runs_s.join(' / ')} s\n`);
  };

  // ours, 1 and 2 threads, interleaved so that load changes hit both alike
  const factors: Record<number, Float32Array[]> = {};
  const times: Record<number, number[]> = { 1: [], 2: [] };
  for (let r = 0; r < flags.runs; r++) {
    for (const threads of [1, 2]) {
      const m = new AlsRecommender({ ...p, threads });
      const t0 = performance.now();
      await m.fit(data);
      times[threads].push((performance.now() - t0) / 1000);
      if (m.kernel !== 'wasm-simd') throw new Error(`ALS ran on ${m.kernel}, not the WebAssembly kernels (npm install builds them)`);
      factors[threads] = [m.userFactors, m.itemFactors];
    }
  }
  record('omnirec wasm-simd, 1 thread', 1, times[1]);
  record('omnirec wasm-simd, 2 threads', 2, times[2]);
  const identical = factors[1].every((f, i) => Buffer.from(f.buffer).equals(Buffer.from(factors[2][i].buffer)));

  // implicit's C++ CG on the same matrix, confidences and initialisation
  let implicit: string | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'bench-als-'));
  try {
    const c = data.weights;
    const conf = Float32Array.from(c.data, (w) => 1 + p.alpha * w);
    const ct = transpose({ ...c, data: conf });
    const u = new Float32Array(c.rows * p.factors);
    const v = new Float32Array(c.cols * p.factors);
    fillNormal(u, p.initScale, p.seed);
    fillNormal(v, p.initScale, p.seed + 1);
    const files: Record<string, ArrayBufferView> = { indptr: Int32Array.from(c.indptr), indices: c.indices, data: conf, tindptr: Int32Array.from(ct.indptr), tindices: ct.indices, tdata: ct.data, u, v };
    for (const [name, a] of Object.entries(files)) writeFileSync(join(dir, name), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    const py = `
import sys, time, json, numpy as np, scipy.sparse as sp
d, rows, cols, k, reg, iters, steps, runs, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
if extra: sys.path.insert(0, extra)
try:
    import _als
except ImportError:
    from implicit.cpu import _als
f = lambda n, t: np.fromfile(d + '/' + n, dtype=t)
Cui = sp.csr_matrix((f('data', np.float32), f('indices', np.int32), f('indptr', np.int32)), shape=(rows, cols))
Ciu = sp.csr_matrix((f('tdata', np.float32), f('tindices', np.int32), f('tindptr', np.int32)), shape=(cols, rows))
res = {}
for threads in (1, 2):
    ts = []
    for r in range(runs):
        U = f('u', np.float32).reshape(rows, k).copy(); V = f('v', np.float32).reshape(cols, k).copy()
        t0 = time.perf_counter()
        for it in range(iters):
            _als.least_squares_cg(Cui, U, V, reg, threads, steps)
            _als.least_squares_cg(Ciu, V, U, reg, threads, steps)
        ts.append(time.perf_counter() - t0)
    res[threads] = ts
print(json.dumps(res))
`;
    const run = spawnSync('python3', ['-c', py, dir, String(c.rows), String(c.cols), String(p.factors), String(p.reg), String(p.iterations), String(p.cgSteps), String(flags.runs), flags['implicit-dir'] ?? ''], {
      encoding: 'utf8',
      // implicit asks for single-threaded BLAS (its own threads do the parallel work); this machine's OpenBLAS
      // core-type pins slow a current numpy, so they are dropped for this process alone
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'OPENBLAS_CORETYPE' && k !== 'OPENBLAS_L2_SIZE')), OPENBLAS_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' },
    });
    if (run.status === 0) {
      const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number[]>;
      record("implicit C++ CG, 1 thread", 1, r['1']);
      record("implicit C++ CG, 2 threads", 2, r['2']);
    } else implicit = (run.stderr.trim().split('\n').pop() ?? 'python3 failed').slice(0, 200);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // the JavaScript kernel the WebAssembly one replaces (same algorithm, f64 accumulators), 2 threads, once
  if (!flags['no-js']) {
    const c = data.weights;
    const ct = transpose(c);
    const u = new Float32Array(c.rows * p.factors);
    const v = new Float32Array(c.cols * p.factors);
    fillNormal(u, p.initScale, p.seed);
    fillNormal(v, p.initScale, p.seed + 1);
    const pool = await CgPool.start(2);
    const t0 = performance.now();
    for (let it = 0; it < p.iterations; it++) {
      await pool.solve(c, v, u, p.factors, gramWithReg(v, p.factors, p.reg), p.alpha, p.cgSteps);
      await pool.solve(ct, u, v, p.factors, gramWithReg(u, p.factors, p.reg), p.alpha, p.cgSteps);
    }
    record('omnirec javascript (before), 2 threads', pool.threads, [(performance.now() - t0) / 1000]);
    await pool.close();
  }

  const ours = out['omnirec wasm-simd, 2 threads'].median_s;
  const theirs = out['implicit C++ CG, 2 threads']?.median_s;
  const summary = {
    split: { cutoff: split.cutoffLabel, customers: data.weights.rows, items: data.weights.cols, nonzeros: data.weights.indices.length },
    params: { factors: p.factors, iterations: p.iterations, cgSteps: p.cgSteps, reg: p.reg, alpha: p.alpha },
    fits: out,
    identicalOn1And2Threads: identical,
    ratioToImplicit2Threads: theirs ? +(ours / theirs).toFixed(2) : null,
    implicitUnavailable: implicit,
    loadavg: loadavg().map((x) => +x.toFixed(2)),
  };
  if (flags.json) process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
  else {
    process.stdout.write(`factors identical on 1 and 2 threads: ${identical}\n`);
    process.stdout.write(theirs ? `omnirec / implicit (2 threads, medians): ${summary.ratioToImplicit2Threads}× (target ≤ 2)\n` : `implicit not measured: ${implicit}\n`);
    process.stdout.write(`load average: ${summary.loadavg.join(' ')}\n`);
  }
});
