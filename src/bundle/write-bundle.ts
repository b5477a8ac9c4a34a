import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleManifest, FileEntry, ModelBundle, TopKLists } from '../core/bundle.js';
import { InvalidArgumentError } from '../core/errors.js';
import { MANIFEST, MODEL_JSON, type ArrayFile, dtypeOf, toBytes } from './bundle-files.js';

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function assertVersion(version: string): void {
  if (!VERSION.test(version)) {
    throw new InvalidArgumentError(`invalid model version "${version}": letters, digits, ".", "_", "-" (max 64)`, { version });
  }
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Customer-side arrays in CSR form, built from the bundle's CustomerRecords. */
export function packCustomers(bundle: ModelBundle) {
  const n = bundle.customers.length;
  const k = bundle.als?.k ?? 0;
  const indptr = new Int32Array(n + 1);
  for (let c = 0; c < n; c++) indptr[c + 1] = indptr[c] + bundle.customers[c].items.length;
  const total = indptr[n];
  const items = new Int32Array(total);
  const counts = new Float32Array(total);
  const lastTime = new Float64Array(total);
  const intervalDays = new Float32Array(total);
  const factors = new Float32Array(n * k);
  const hasVector = new Uint8Array(n);
  bundle.customers.forEach((r, c) => {
    const o = indptr[c];
    items.set(r.items, o);
    counts.set(r.counts, o);
    lastTime.set(r.lastTime, o);
    intervalDays.set(r.intervalDays, o);
    if (r.vector && k > 0) {
      if (r.vector.length !== k) throw new InvalidArgumentError(`customer ${r.customerId}: vector length ${r.vector.length} != k ${k}`);
      factors.set(r.vector, c * k);
      hasVector[c] = 1;
    }
  });
  return { indptr, items, counts, lastTime, intervalDays, factors, hasVector };
}

/** The customers' TIFU-KNN vectors, when records carry them: own weights aligned with customer-items, neighbours' parts in CSR. */
function packTifu(bundle: ModelBundle): Record<string, ArrayFile> | null {
  if (!bundle.customers.some((r) => r.tifu)) return null;
  const n = bundle.customers.length;
  const own: number[] = [];
  const indptr = new Int32Array(n + 1);
  const items: number[] = [];
  const scores: number[] = [];
  bundle.customers.forEach((r, c) => {
    for (let q = 0; q < r.items.length; q++) own.push(r.tifu ? r.tifu.own[q] : 0);
    if (r.tifu) for (let q = 0; q < r.tifu.nbrItems.length; q++) (items.push(r.tifu.nbrItems[q]), scores.push(r.tifu.nbrScores[q]));
    indptr[c + 1] = items.length;
  });
  return {
    'customer-tifu-own.f32': Float32Array.from(own),
    'customer-tifu-indptr.i32': indptr,
    'customer-tifu-items.i32': Int32Array.from(items),
    'customer-tifu-scores.f32': Float32Array.from(scores),
  };
}

function topKFiles(prefix: string, t: TopKLists): Record<string, ArrayFile> {
  return {
    [`${prefix}-indptr.i32`]: t.indptr,
    [`${prefix}-indices.i32`]: t.indices,
    [`${prefix}-scores.f32`]: t.scores,
  };
}

const rankedJson = (r: { items: Int32Array; scores: Float32Array }) => ({ items: Array.from(r.items), scores: Array.from(r.scores) });

/**
 * Writes a bundle to dir/<version>/ atomically (a temporary directory renamed into place)
 * and returns the manifest with every file's checksum. Refuses to overwrite an existing version.
 */
export async function writeBundle(modelDir: string, bundle: ModelBundle): Promise<BundleManifest> {
  const version = bundle.manifest.version;
  assertVersion(version);
  const final = join(modelDir, version);
  const tmp = join(modelDir, `.${version}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const packed = packCustomers(bundle);
    const arrays: Record<string, ArrayFile> = {
      ...topKFiles('neighbours', bundle.neighbours),
      ...topKFiles('fbt', bundle.fbt),
      'customer-indptr.i32': packed.indptr,
      'customer-items.i32': packed.items,
      'customer-counts.f32': packed.counts,
      'customer-last-time.f64': packed.lastTime,
      'customer-interval-days.f32': packed.intervalDays,
      'customer-has-vector.u8': packed.hasVector,
    };
    if (bundle.als) {
      arrays['als-item-factors.f32'] = bundle.als.itemFactors;
      arrays['customer-factors.f32'] = packed.factors;
    }
    const served = bundle.served;
    if (served) {
      arrays['served-popularity.f32'] = served.popularity;
      for (const [h, t] of Object.entries(served.trends)) arrays[`served-trend-${h}.f32`] = t;
      for (const [kind, l] of Object.entries(served.lists)) Object.assign(arrays, topKFiles(`served-${kind}`, l!));
      const tifu = packTifu(bundle);
      if (tifu) Object.assign(arrays, tifu);
    }
    const files: Record<string, FileEntry> = {};
    for (const [name, a] of Object.entries(arrays)) {
      const bytes = toBytes(a);
      await writeFile(join(tmp, name), bytes);
      files[name] = { sha256: sha256(bytes), bytes: bytes.byteLength, dtype: dtypeOf(a), shape: [a.length] };
    }
    const model = {
      items: bundle.items,
      itemCategories: bundle.itemCategories,
      als: bundle.als ? { k: bundle.als.k, reg: bundle.als.reg, alpha: bundle.als.alpha } : null,
      blend: bundle.blend,
      popular: {
        global: rankedJson(bundle.popular.global),
        trending: rankedJson(bundle.popular.trending),
        byStore: Object.fromEntries(Object.entries(bundle.popular.byStore).map(([s, r]) => [s, rankedJson(r)])),
        ...(bundle.popular.byChannel ? { byChannel: Object.fromEntries(Object.entries(bundle.popular.byChannel).map(([c, r]) => [c, rankedJson(r!)])) } : {}),
        bySegment: Object.fromEntries(Object.entries(bundle.popular.bySegment).map(([s, r]) => [s, rankedJson(r!)])),
      },
      ...(served ? { served: { spec: served.spec, trends: Object.keys(served.trends), lists: Object.keys(served.lists), foldInWeight: served.foldInWeight } } : {}),
      customers: bundle.customers.map((c) => c.customerId),
      segments: bundle.customers.map((c) => c.segment),
    };
    const modelText = JSON.stringify(model);
    await writeFile(join(tmp, MODEL_JSON), modelText);
    files[MODEL_JSON] = { sha256: sha256(modelText), bytes: Buffer.byteLength(modelText), dtype: 'json' };
    const manifest: BundleManifest = { ...bundle.manifest, files };
    await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    try {
      await rename(tmp, final);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new InvalidArgumentError(`model version ${version} already exists in ${modelDir}`, { version });
      }
      throw e;
    }
    return manifest;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Replaces fields of a written bundle's manifest (train --evaluate adds the evaluation's metrics after
 * the bundle is written): the new manifest.json is written beside the old one and renamed over it, so a
 * reader sees the old or the new manifest, never a partial one. The files and their checksums are kept.
 */
export async function updateManifest(modelDir: string, version: string, patch: Partial<Pick<BundleManifest, 'metrics' | 'timings'>>): Promise<BundleManifest> {
  assertVersion(version);
  const path = join(modelDir, version, MANIFEST);
  const current = JSON.parse(await readFile(path, 'utf8')) as BundleManifest;
  const next: BundleManifest = { ...current, ...patch, files: current.files };
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(next, null, 2) + '\n');
  await rename(tmp, path);
  return next;
}
