import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleManifest, CustomerRecord, ModelBundle, RankedList, ServedBundle, TopKLists } from '../core/bundle.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { Segment } from '../core/records.js';
import { MANIFEST, MODEL_JSON, type ArrayFile, fromBytes } from './bundle-files.js';
import { assertVersion } from './write-bundle.js';

interface RankedJson {
  items: number[];
  scores: number[];
}

const ranked = (r: RankedJson): RankedList => ({ items: Int32Array.from(r.items), scores: Float32Array.from(r.scores) });

export async function readManifest(modelDir: string, version: string): Promise<BundleManifest> {
  assertVersion(version);
  let text: string;
  try {
    text = await readFile(join(modelDir, version, MANIFEST), 'utf8');
  } catch {
    throw new NotFoundError(`model version ${version} not found in ${modelDir}`, { version });
  }
  return JSON.parse(text) as BundleManifest;
}

/**
 * Reads models/<version>/ back into memory. Every file's checksum is verified against the
 * manifest unless `verify` is false; a mismatch or a missing file is an InvalidArgumentError.
 */
export async function readBundle(modelDir: string, version: string, { verify = true } = {}): Promise<ModelBundle> {
  const manifest = await readManifest(modelDir, version);
  const dir = join(modelDir, version);
  const raw = new Map<string, Buffer>();
  for (const [name, entry] of Object.entries(manifest.files)) {
    let buf: Buffer;
    try {
      buf = await readFile(join(dir, name));
    } catch {
      throw new InvalidArgumentError(`model ${version}: file ${name} is missing`, { version, file: name });
    }
    if (verify && createHash('sha256').update(buf).digest('hex') !== entry.sha256) {
      throw new InvalidArgumentError(`model ${version}: checksum mismatch for ${name}`, { version, file: name });
    }
    raw.set(name, buf);
  }
  const arr = (name: string): ArrayFile => {
    const b = raw.get(name);
    if (!b) throw new InvalidArgumentError(`model ${version}: file ${name} is missing from the manifest`, { version, file: name });
    return fromBytes(b, manifest.files[name].dtype ?? 'uint8');
  };
  const topK = (prefix: string): TopKLists => ({
    indptr: arr(`${prefix}-indptr.i32`) as Int32Array,
    indices: arr(`${prefix}-indices.i32`) as Int32Array,
    scores: arr(`${prefix}-scores.f32`) as Float32Array,
  });
  const model = JSON.parse(raw.get(MODEL_JSON)!.toString('utf8')) as {
    items: string[];
    itemCategories: (string | null)[];
    als: { k: number; reg: number; alpha: number } | null;
    blend: Record<string, number>;
    /** byChannel: absent in bundles written before per-channel lists. */
    popular: { global: RankedJson; trending: RankedJson; byStore: Record<string, RankedJson>; byChannel?: Record<string, RankedJson>; bySegment: Record<string, RankedJson> };
    customers: string[];
    segments: (Segment | null)[];
    served?: { spec: ServedBundle['spec']; trends: string[]; lists: ('ease' | 'item_knn')[]; foldInWeight: number };
  };

  const indptr = arr('customer-indptr.i32') as Int32Array;
  const items = arr('customer-items.i32') as Int32Array;
  const counts = arr('customer-counts.f32') as Float32Array;
  const lastTime = arr('customer-last-time.f64') as Float64Array;
  const intervalDays = arr('customer-interval-days.f32') as Float32Array;
  const hasVector = arr('customer-has-vector.u8') as Uint8Array;
  const k = model.als?.k ?? 0;
  const factors = model.als ? (arr('customer-factors.f32') as Float32Array) : null;
  const tifu = manifest.files['customer-tifu-own.f32']
    ? {
        own: arr('customer-tifu-own.f32') as Float32Array,
        indptr: arr('customer-tifu-indptr.i32') as Int32Array,
        items: arr('customer-tifu-items.i32') as Int32Array,
        scores: arr('customer-tifu-scores.f32') as Float32Array,
      }
    : null;
  const customers: CustomerRecord[] = model.customers.map((customerId, c) => {
    const s = indptr[c];
    const e = indptr[c + 1];
    return {
      ...(tifu
        ? {
            tifu: {
              own: tifu.own.subarray(s, e),
              nbrItems: tifu.items.subarray(tifu.indptr[c], tifu.indptr[c + 1]),
              nbrScores: tifu.scores.subarray(tifu.indptr[c], tifu.indptr[c + 1]),
            },
          }
        : {}),
      customerId,
      vector: factors && hasVector[c] ? factors.subarray(c * k, (c + 1) * k) : null,
      segment: model.segments[c] ?? null,
      items: items.subarray(s, e),
      counts: counts.subarray(s, e),
      lastTime: lastTime.subarray(s, e),
      intervalDays: intervalDays.subarray(s, e),
    };
  });

  return {
    manifest,
    items: model.items,
    itemCategories: model.itemCategories,
    als: model.als ? { ...model.als, itemFactors: arr('als-item-factors.f32') as Float32Array } : null,
    neighbours: topK('neighbours'),
    fbt: topK('fbt'),
    popular: {
      global: ranked(model.popular.global),
      trending: ranked(model.popular.trending),
      byStore: Object.fromEntries(Object.entries(model.popular.byStore).map(([s, r]) => [s, ranked(r)])),
      ...(model.popular.byChannel ? { byChannel: Object.fromEntries(Object.entries(model.popular.byChannel).map(([c, r]) => [c, ranked(r)])) } : {}),
      bySegment: Object.fromEntries(Object.entries(model.popular.bySegment).map(([s, r]) => [s, ranked(r)])),
    },
    blend: model.blend,
    ...(model.served
      ? {
          served: {
            spec: model.served.spec,
            foldInWeight: model.served.foldInWeight,
            popularity: arr('served-popularity.f32') as Float32Array,
            trends: Object.fromEntries(model.served.trends.map((h) => [h, arr(`served-trend-${h}.f32`) as Float32Array])),
            lists: Object.fromEntries(model.served.lists.map((k) => [k, topK(`served-${k}`)])),
          },
        }
      : {}),
    customers,
  };
}

/** Manifests of every bundle in modelDir, newest first (by createdAt). */
export async function listBundles(modelDir: string): Promise<BundleManifest[]> {
  let names: string[];
  try {
    names = await readdir(modelDir);
  } catch {
    return [];
  }
  const out: BundleManifest[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    try {
      out.push(await readManifest(modelDir, name));
    } catch {
      // not a bundle (README, stray files)
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.version.localeCompare(a.version));
}

/** The newest bundle's version, or null when there is none. */
export async function latestVersion(modelDir: string): Promise<string | null> {
  return (await listBundles(modelDir))[0]?.version ?? null;
}
