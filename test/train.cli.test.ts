import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../src/bundle/read-bundle.js';

let dir: string;
let csv: string;

/**
 * A tiny Online Retail file: 6 customers over 60 days from 2011-01-01, two taste groups
 * (customers 1-3 buy A10/B10/C10, 4-6 buy D10/E10/F10), item G10 bought by everyone, a guest basket,
 * a cancellation and a postage line (non-product).
 */
function tinyRetailCsv(): string {
  const rows = ['InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country'];
  let inv = 600000;
  const day = (d: number) => new Date(Date.UTC(2011, 0, 1 + d, 10)).toISOString().replace('T', ' ').slice(0, 19);
  for (let c = 1; c <= 6; c++) {
    const group = c <= 3 ? ['A10', 'B10', 'C10'] : ['D10', 'E10', 'F10'];
    for (let k = 0; k < 4; k++) {
      const d = k * 15 + c;
      inv++;
      for (const sku of [group[k % 3], group[(k + c) % 3], 'G10']) rows.push(`${inv},${sku},"ITEM ${sku}, NICE",${1 + k},${day(d)},1.25,${12340 + c},United Kingdom`);
    }
  }
  rows.push(`${++inv},A10,ITEM A,1,${day(5)},1.25,,United Kingdom`);
  rows.push(`${inv},D10,ITEM D,1,${day(5)},1.25,,United Kingdom`);
  rows.push(`C${++inv},A10,ITEM A,-1,${day(7)},1.25,12341,United Kingdom`);
  rows.push(`${++inv},POST,POSTAGE,1,${day(8)},18,12341,United Kingdom`);
  return rows.join('\n') + '\n';
}

function run(script: string, args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: join(import.meta.dirname, '..'),
    encoding: 'utf8',
    env: { ...process.env, MODEL_DIR: join(dir, 'models-default') },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'omnirec-train-cli-'));
  csv = join(dir, 'tiny.csv');
  await writeFile(csv, tinyRetailCsv());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run train', () => {
  it('trains a tiny file end to end and the bundle loads back', async () => {
    const models = join(dir, 'models');
    const r = run('scripts/train.ts', ['--data', csv, '--model-dir', models, '--version', 'v1', '--json', '--quiet', '--evaluate', '--cutoff', '2011-02-10', '--eval-models', 'popularity,repeat,item_knn', '--als-factors', '8', '--blend-learned-weight', '0.25']);
    // --quiet: no stage lines, no TensorFlow.js backend notice
    expect(r.stderr).not.toMatch(/load \+ dataset|error|tensorflow/i);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(r.stdout) as { version: string; data: Record<string, unknown>; timings: Record<string, number>; metrics: { models: Record<string, unknown> } };
    expect(manifest.version).toBe('v1');
    expect(manifest.data).toMatchObject({ customers: 6, items: 7 });
    expect(manifest.timings['load + dataset']).toBeGreaterThanOrEqual(0);
    expect(manifest.timings.item_knn).toBeGreaterThanOrEqual(0);
    expect(Object.keys(manifest.metrics.models)).toContain('popularity');
    const bundle = await readBundle(models, 'v1');
    expect([...bundle.items].sort()).toEqual(['A10', 'B10', 'C10', 'D10', 'E10', 'F10', 'G10']);
    expect(bundle.customers).toHaveLength(6);
    // G is bought by all six customers: first in the global popular list
    expect(bundle.items[bundle.popular.global.items[0]]).toBe('G10');
    // UCI Online Retail is one web shop: one per-channel list, the web's, led by G too
    expect(Object.keys(bundle.popular.byChannel!)).toEqual(['web']);
    expect(bundle.items[bundle.popular.byChannel!.web!.items[0]]).toBe('G10');
    // customer 12341 bought A10 on days 1, 31 and 46 (8 units) and returned one: still holds it, 3 lines, every 22.5 days
    const c1 = bundle.customers.find((c) => c.customerId === '12341')!;
    const a = bundle.items.indexOf('A10');
    const p = Array.from(c1.items).indexOf(a);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(c1.counts[p]).toBe(3);
    expect(c1.intervalDays[p]).toBeCloseTo(22.5, 5);
    expect(existsSync(join(models, 'v1', 'report.html'))).toBe(true);
    // hyperparameter flags reach the models: 8 ALS factors, every customer with a vector of 8
    expect(bundle.als?.k).toBe(8);
    expect(bundle.customers.every((c) => c.vector?.length === 8)).toBe(true);
    expect(bundle.blend.learnedWeight).toBe(0.25);
    // RFM: every customer bought, so every customer has a segment
    expect(bundle.customers.every((c) => c.segment !== null)).toBe(true);
    // item-kNN neighbours: items of one taste group are neighbours of each other, not of the other group
    const nb = (sku: string) => {
      const i = bundle.items.indexOf(sku);
      return Array.from(bundle.neighbours.indices.subarray(bundle.neighbours.indptr[i], bundle.neighbours.indptr[i + 1])).map((j) => bundle.items[j]);
    };
    expect(nb('A10')).toContain('B10');
    expect(nb('A10')).not.toContain('E10');
  });

  it('--evaluate writes the bundle before evaluating: an evaluation that fails leaves a complete bundle, without its metrics', async () => {
    const models = join(dir, 'models-eval-fails');
    // a cutoff before every purchase: training succeeds, the evaluation has nothing to fit on
    const r = run('scripts/train.ts', ['--data', csv, '--model-dir', models, '--version', 'v1', '--json', '--quiet', '--evaluate', '--cutoff', '2010-06-01', '--eval-models', 'popularity', '--als-factors', '8']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/before the cutoff/);
    const bundle = await readBundle(models, 'v1');
    expect(bundle.customers).toHaveLength(6);
    expect(bundle.manifest.metrics.models).toBeUndefined();
    expect(bundle.manifest.timings.train_total).toBeGreaterThan(0);
    expect(existsSync(join(models, 'v1', 'report.html'))).toBe(false);
  });

  it('--grid chooses hyperparameters on the validation window and trains the bundle with them', async () => {
    const models = join(dir, 'models-grid');
    const r = run('scripts/train.ts', ['--data', csv, '--model-dir', models, '--version', 'g1', '--json', '--quiet', '--validation-days', '20', '--grid', 'item_knn.neighbours=1,5', '--als-factors', '8']);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(r.stdout) as {
      params: { models: { item_knn: { neighbours: number } } };
      metrics: { validation: { cutoff: string; grid: { cutoff: string; runs: Record<string, { discovery: { 'ndcg@10': number }; all: { 'ndcg@10': number } }>; chosen: { item_knn: { label: string; params: { neighbours: number } } } } } };
    };
    const g = manifest.metrics.validation.grid;
    // both runs scored on the served model's validation window, the better one trains the bundle
    expect(g.cutoff).toBe(manifest.metrics.validation.cutoff);
    expect(Object.keys(g.runs).sort()).toEqual(['item_knn[neighbours=1]', 'item_knn[neighbours=5]']);
    const sum = (l: string) => g.runs[l].discovery['ndcg@10'] + g.runs[l].all['ndcg@10'];
    const best = sum('item_knn[neighbours=5]') > sum('item_knn[neighbours=1]') ? 5 : 1;
    expect(g.chosen.item_knn.params.neighbours).toBe(best);
    expect(manifest.params.models.item_knn.neighbours).toBe(best);
    // no validation window, no grid
    expect(run('scripts/train.ts', ['--data', csv, '--model-dir', models, '--version', 'g2', '--quiet', '--validation-days', '0', '--grid', 'item_knn.neighbours=1,5']).code).toBe(2);
  });

  it('exits 2 on bad usage and 1 on a missing file', () => {
    expect(run('scripts/train.ts', ['--bogus']).code).toBe(2);
    expect(run('scripts/train.ts', ['--data', csv, '--epsilon', '0']).code).toBe(2);
    const missing = run('scripts/train.ts', ['--data', join(dir, 'nope.csv'), '--quiet']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.csv/);
  });

  it('prints --help', () => {
    const r = run('scripts/train.ts', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--evaluate/);
    expect(r.stdout).toMatch(/--half-life-days/);
  });
});

describe('npm run evaluate', () => {
  it('--json prints the issue shape for every model', () => {
    const r = run('scripts/evaluate.ts', ['--data', csv, '--cutoff', '2011-02-10', '--json', '--quiet', '--no-report', '--models', 'popularity,repeat,item_knn,fbt']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      cutoff: string;
      served: string;
      models: Record<string, Record<string, unknown>>;
      validation: { cutoff: string; days: number; models: Record<string, unknown>; candidates: unknown[] };
    };
    expect(out.cutoff).toBe('2011-02-10');
    // the asked models, then the served model (chosen on validation) and the two baselines beside it
    expect(Object.keys(out.models)).toEqual(['popularity', 'repeat', 'item_knn', 'fbt', 'served', 'trend', 'repeat_trend']);
    expect(Object.keys(out)[1]).toBe('served');
    expect(out.served).toMatch(/^discovery=.+; all=.+$/);
    // the validation window: the test window's length, right before the cutoff; chosen there
    expect(out.validation.days).toBeGreaterThan(0);
    expect(Date.parse(out.validation.cutoff)).toBe(Date.parse('2011-02-10') - out.validation.days * 86_400_000);
    expect(Object.keys(out.validation.models)).toEqual(['popularity', 'repeat', 'item_knn', 'fbt', 'served']);
    expect(out.validation.candidates.length).toBeGreaterThan(10);
    for (const m of Object.values(out.models)) {
      for (const protocol of ['discovery', 'all']) {
        expect(m[protocol]).toEqual(expect.objectContaining({ 'ndcg@10': expect.any(Number), 'recall@20': expect.any(Number), 'hr@10': expect.any(Number), users: expect.any(Number) }));
      }
      expect(m.fit_s).toEqual(expect.any(Number));
    }
    // the last 20 days: every customer buys again after 2011-02-10
    expect((out.models.repeat.all as { users: number }).users).toBe(6);
  });

  it('--grid is scored on validation only; the test window scores the best run per model once', () => {
    const r = run('scripts/evaluate.ts', ['--data', csv, '--cutoff', '2011-02-10', '--json', '--quiet', '--no-report', '--models', 'popularity', '--grid', 'item_knn.neighbours=2,20']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { models: Record<string, unknown>; validation: { models: Record<string, { discovery: { 'ndcg@10': number }; all: { 'ndcg@10': number } }> } };
    const grid = ['item_knn[neighbours=2]', 'item_knn[neighbours=20]'];
    expect(Object.keys(out.validation.models)).toEqual(expect.arrayContaining(grid));
    const tested = grid.filter((g) => g in out.models);
    expect(tested).toHaveLength(1);
    const v = out.validation.models;
    const sum = (g: string) => v[g].discovery['ndcg@10'] + v[g].all['ndcg@10'];
    expect(sum(tested[0])).toBe(Math.max(...grid.map(sum)));
  });

  it('writes the HTML report with inline SVG charts and no external resources', async () => {
    const path = join(dir, 'r.html');
    const r = run('scripts/evaluate.ts', ['--data', csv, '--holdout-days', '20', '--models', 'popularity', '--report', path, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/popularity/);
    const html = await (await import('node:fs/promises')).readFile(path, 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('rejects an unknown model with exit 2', () => {
    expect(run('scripts/evaluate.ts', ['--data', csv, '--models', 'nope']).code).toBe(2);
  });
});
